"""The README's Python examples run as written, so a reader copying one gets working code.

Each ```python block is executed in an empty directory holding what the text around it
promises (the `plan.toml` it loads); the Docker example needs an engine and starts Postfix.
A block that stops importing, or whose names drift from the API, fails here.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
BLOCKS = [match.group(1) for match in BLOCK.finditer(README.read_text(encoding="utf-8"))]

#: The plan the receiver example loads: 451 to the first RCPT of each message, then accept.
PLAN = """\
[[rule]]
stage = "rcpt"
message_attempt = 1
reply = "451 4.3.0 try later"
"""


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


def needs_docker(code: str) -> bool:
    return "docker_client" in code or "target_class" in code


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            code,
            id=f"example-{index + 1}",
            marks=[pytest.mark.docker, pytest.mark.slow] if needs_docker(code) else [],
        )
        for index, code in enumerate(BLOCKS)
    ],
)
def test_a_readme_example_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plan.toml").write_text(PLAN, encoding="utf-8")
    printed = io.StringIO()

    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"{README}:python-example", "exec"), {"__name__": "readme_example"})

    if "print(" in code and needs_docker(code):
        assert printed.getvalue().strip(), "the example printed nothing"
