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


def bad_value(name: str, value: object, expected: str) -> InputError:
    """`InputError` in the house style: "`gamma` must be >= 0, got -0.1"."""
    return InputError(f"`{name}` must be {expected}, got {value!r}")


class ReducedDynamicsWarning(UserWarning):
    """Something the user should know about a result (the CLI prints ``warning: ...``)."""
