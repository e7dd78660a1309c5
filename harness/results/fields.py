"""Typed reading of JSON objects, with errors that name the file and the field's path.

`matrix.json` and baselines are read back from disk, possibly after a hand edit or a merge: a
wrong type must say where it is (`cases[3].attempts[0].t`), not surface as a `KeyError` deep in
a report renderer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from harness.errors import MatrixFormatError

E = TypeVar("E", bound=StrEnum)
_REQUIRED: Any = object()


class Fields:
    """The fields of one JSON object at `where` in the document `source`.

    Each getter takes the key and, for optional fields, the default used when it is absent.
    """

    def __init__(self, value: Any, where: str, source: str) -> None:
        self.where = where
        self.source = source
        if not isinstance(value, Mapping):
            raise self._fail(where, f"expected an object, got {_kind(value)}")
        self.data: Mapping[str, Any] = value

    def _fail(self, where: str, problem: str) -> MatrixFormatError:
        return MatrixFormatError(f"{self.source}: {where or 'top level'}: {problem}")

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise self._fail(self.where, f"the field {key!r} is missing")
        return default

    def object(self, key: str, default: Any = _REQUIRED) -> Fields:
        return Fields(self._get(key, default), self._at(key), self.source)

    def objects(self, key: str, default: Any = _REQUIRED) -> Iterator[Fields]:
        """The objects of the array `key`, each with its own path for errors."""
        for where, value in self._items(key, default):
            yield Fields(value, where, self.source)

    def strings(self, key: str, default: Any = _REQUIRED) -> tuple[str, ...]:
        return tuple(self._string(value, where) for where, value in self._items(key, default))

    def numbers(self, key: str, default: Any = _REQUIRED) -> tuple[float, ...]:
        return tuple(self._number(value, where) for where, value in self._items(key, default))

    def optional_pair(self, key: str) -> tuple[float, float] | None:
        """A two-number array (a window: earliest, latest), or None when null or absent."""
        if self.data.get(key) is None:
            return None
        values = self.numbers(key)
        if len(values) != 2:
            raise self._fail(self._at(key), f"expected two numbers, got {len(values)}")
        return values[0], values[1]

    def string(self, key: str, default: Any = _REQUIRED) -> str:
        return self._string(self._get(key, default), self._at(key))

    def optional_string(self, key: str) -> str | None:
        value = self._get(key, None)
        return None if value is None else self._string(value, self._at(key))

    def integer(self, key: str, default: Any = _REQUIRED) -> int:
        return self._integer(self._get(key, default), self._at(key))

    def optional_integer(self, key: str) -> int | None:
        value = self._get(key, None)
        return None if value is None else self._integer(value, self._at(key))

    def number(self, key: str, default: Any = _REQUIRED) -> float:
        return self._number(self._get(key, default), self._at(key))

    def optional_number(self, key: str) -> float | None:
        value = self._get(key, None)
        return None if value is None else self._number(value, self._at(key))

    def boolean(self, key: str, default: Any = _REQUIRED) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._fail(self._at(key), f"expected true or false, got {_kind(value)}")
        return value

    def choice(self, enum: type[E], key: str) -> E:
        return choice(enum, self.string(key), self._at(key), self.source)

    def _items(self, key: str, default: Any) -> Iterator[tuple[str, Any]]:
        values = self._get(key, default)
        if not isinstance(values, list | tuple):
            raise self._fail(self._at(key), f"expected an array, got {_kind(values)}")
        for index, value in enumerate(values):
            yield f"{self._at(key)}[{index}]", value

    def _string(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self._fail(where, f"expected a string, got {_kind(value)}")
        return value

    def _integer(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(where, f"expected an integer, got {_kind(value)}")
        return value

    def _number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(where, f"expected a number, got {_kind(value)}")
        if not math.isfinite(value):
            raise self._fail(where, f"expected a finite number, got {value}")
        return value  # an int stays an int, so a round trip is exact


def choice(enum: type[E], text: str, where: str, source: str) -> E:
    """`text` as a member of `enum`, or an error listing the accepted values."""
    try:
        return enum(text)
    except ValueError:
        known = ", ".join(repr(member.value) for member in enum)
        raise MatrixFormatError(f"{source}: {where}: {text!r} is not one of {known}") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
