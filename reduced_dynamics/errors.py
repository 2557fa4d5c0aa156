"""Exceptions raised for bad input. The CLI turns each into one message and exit status 2."""

from __future__ import annotations


class ReducedDynamicsError(Exception):
    """Base class: an error the user can fix (bad file, bad argument)."""


class InputError(ReducedDynamicsError, ValueError):
    """A bad argument: names the argument, the value received, and what would work."""


class FileCheckError(ReducedDynamicsError, ValueError):
    """A file that is missing, unreadable, or not what its kind requires."""


class WriteError(ReducedDynamicsError, OSError):
    """A file could not be written; the previous file (if any) is untouched."""


def one_line(value: object) -> str:
    """``repr(value)`` on one line (an array's repr spans several)."""
    return " ".join(repr(value).split())


def shown(value: object, limit: int = 80) -> str:
    """`one_line` of ``value``, or ``a <type>`` when that is longer than ``limit`` (a
    Dataset, a long array)."""
    text = one_line(value)
    return text if len(text) <= limit else f"a {type(value).__name__}"


def bad_value(name: str, value: object, expected: str) -> InputError:
    """`InputError` in the house style: "`gamma` must be >= 0, got -0.1"."""
    return InputError(f"`{name}` must be {expected}, got {one_line(value)}")


class ReducedDynamicsWarning(UserWarning):
    """Something the user should know about a result (the CLI prints ``warning: ...``)."""
