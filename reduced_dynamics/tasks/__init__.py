"""Tasks: the data and model shape of each problem the package supports."""

from __future__ import annotations

from ..errors import InputError

TASKS = ("toy-addition",)


def check_task(name: str) -> str:
    if name not in TASKS:
        raise InputError(f"`task` must be one of {list(TASKS)}, got {name!r}")
    return name
