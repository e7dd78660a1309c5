"""Argument types shared by the subcommands: argparse shows their messages as usage errors."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number of at least 1 (counts: messages, sessions, users)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_float(text: str) -> float:
    """A number of at least 0 (seconds, factors, fractions)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def positive_int_list(text: str) -> tuple[int, ...]:
    """`1,2,4`: one or more whole numbers of at least 1, in the order given."""
    return tuple(positive_int(part.strip()) for part in text.split(","))
