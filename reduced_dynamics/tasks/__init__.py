"""Tasks: the data and model shape of each problem the package supports.

Each task module defines a config, its presets and a `TaskEntry` (`base`); its torch
adapter lives in ``<task>_torch.py``. Everything else (probe, trainer, files, CLI,
validation) is shared.

Tasks are plugins: every entry point of the group ``reduced_dynamics.tasks`` (package
metadata, ``[project.entry-points."reduced_dynamics.tasks"]`` in a pyproject.toml) loads a
`TaskEntry` and is registered when this package is imported — the built-in tasks the same
way (`BUILTIN`; from their modules directly when the package metadata is missing, e.g. a
source tree on ``PYTHONPATH``), then the others in name order. A plugin that cannot be
loaded, is not a `TaskEntry`, or names a registered task is skipped with a
`TaskPluginWarning`.
"""

from __future__ import annotations

import importlib
import warnings
from importlib.metadata import entry_points

from reduced_dynamics.errors import InputError, ReducedDynamicsWarning
from reduced_dynamics.tasks.base import (
    REGISTRY,
    TaskEntry,
    TorchTask,
    get_task,
    register,
    task_of,
    torch_task,
    unregister,
)

GROUP = "reduced_dynamics.tasks"
BUILTIN = {
    "toy-addition": "reduced_dynamics.tasks.toy_addition:TASK",
    "teacher-student": "reduced_dynamics.tasks.teacher_student:TASK",
    "images": "reduced_dynamics.tasks.images:TASK",
    "modular-addition": "reduced_dynamics.tasks.modular_addition:TASK",
    "text": "reduced_dynamics.tasks.text:TASK",
    "molecules": "reduced_dynamics.tasks.molecules:TASK",
}
"""The built-in tasks, in the order the CLI lists them (their entry points' targets)."""


class TaskPluginWarning(ReducedDynamicsWarning):
    """A task plugin was skipped (it could not be loaded or registered)."""


def _target(value: str) -> object:
    module, attr = value.split(":")
    return getattr(importlib.import_module(module), attr)


def load_tasks() -> None:
    """Register the built-in tasks, then every plugin of the entry-point group `GROUP`."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    for name, value in BUILTIN.items():
        ep = found.pop(name, None)
        if ep is not None and ep.value != value:
            warnings.warn(f"task plugin {name!r} ({ep.value}) was skipped: {name!r} is a "
                          "built-in task", TaskPluginWarning, stacklevel=2)
        register(ep.load() if ep is not None and ep.value == value else _target(value))
    for name in sorted(found):
        ep = found[name]
        try:
            entry = ep.load()
            if not isinstance(entry, TaskEntry):
                raise InputError(f"it loads a {type(entry).__name__}, not a TaskEntry")
            if entry.name != name:
                raise InputError(f"its entry point is named {name!r} but the task "
                                 f"{entry.name!r}")
            register(entry)
        except Exception as exc:  # a broken plugin must not break the package
            warnings.warn(f"task plugin {name!r} ({ep.value}) was skipped: {exc}",
                          TaskPluginWarning, stacklevel=2)


load_tasks()

TASKS = tuple(REGISTRY)


__all__ = ["BUILTIN", "GROUP", "REGISTRY", "TASKS", "TaskEntry", "TaskPluginWarning",
           "TorchTask", "get_task", "load_tasks", "register", "task_of", "torch_task",
           "unregister"]
