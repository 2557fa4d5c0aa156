"""Tasks: the data and model shape of each problem the package supports.

Each task module defines a config, its presets and a `TaskEntry` (`base`); its torch
adapter lives in ``<task>_torch.py``. Everything else (probe, trainer, files, CLI,
validation) is shared.
"""

from __future__ import annotations

from reduced_dynamics.tasks import images, modular_addition, teacher_student, toy_addition
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

register(toy_addition.TASK)
register(teacher_student.TASK)
register(images.TASK)
register(modular_addition.TASK)

TASKS = tuple(REGISTRY)


__all__ = ["REGISTRY", "TASKS", "TaskEntry", "TorchTask", "get_task",
           "register", "task_of", "torch_task", "unregister"]
