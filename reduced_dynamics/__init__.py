"""reduced_dynamics: reduced (w, m) landscapes and gradient-flow predictions of grokking.

The pipeline, one subpackage per step: `probe` a task's reduced landscape (torch) →
`open_landscape` → `integrate` the reduced dynamics / `predict_grokking_times` /
`analyze_path` (numba; what is left out comes from the landscape's own task, as on the
command line: `reduced_dynamics.study`) → `train` full runs (torch) → `validate`
predictions against them; `data_size_dependence` (Fig. 6e) on a (w, m, n_train)
landscape; `predicted_phases`, `measured_phases`, `compare_phases` (phase diagrams, SPEC
§15).

Importing the package needs neither torch nor matplotlib: the probe and the training runs
import torch when called, and the torch side of the API (`probe`, `train`, their configs,
`get_task`) and the figures (`plot_landscape`, `plot_path`, `plot_path_1d`, `plot_gamma`,
`plot_runs`, `plot_t_grok_vs_gamma`, `plot_validation_paths`, `plot_datasize`,
`plot_phases`, `plot_phase_comparison`; matplotlib)
are loaded on first access.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from reduced_dynamics.errors import FileCheckError, InputError, ReducedDynamicsError, WriteError
from reduced_dynamics.io.landscape_file import open_landscape, save_landscape
from reduced_dynamics.io.resources import default_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.names import PathStatus, RunStatus

if TYPE_CHECKING:  # pragma: no cover
    from reduced_dynamics.config import ProbeConfig, RunSet, TrainConfig
    from reduced_dynamics.datasize import data_size_dependence
    from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
    from reduced_dynamics.engine.prepare import prepare_landscape
    from reduced_dynamics.io.datasize_file import open_datasize
    from reduced_dynamics.io.phases_file import open_phases
    from reduced_dynamics.landscape.sweep import ProbeGrid
    from reduced_dynamics.landscape.sweep import probe_landscape as probe
    from reduced_dynamics.phases import compare_phases, measured_phases, predicted_phases
    from reduced_dynamics.plot.datasize import plot_datasize
    from reduced_dynamics.plot.landscape import (
        plot_landscape,
        plot_t_grok_vs_gamma,
        plot_validation_paths,
    )
    from reduced_dynamics.plot.phases import plot_phase_comparison, plot_phases
    from reduced_dynamics.plot.predictions import plot_gamma, plot_path, plot_path_1d
    from reduced_dynamics.plot.runs import plot_runs
    from reduced_dynamics.study import (
        analyze_path,
        integrate,
        predict_grokking_times,
        study_defaults,
    )
    from reduced_dynamics.tasks import get_task
    from reduced_dynamics.training.sweep import run_training as train
    from reduced_dynamics.validate import validate

# name -> (module, attribute), loaded on first access. The engine is lazy too: importing
# numba before torch changes torch's CPU rounding (the probe's bit-for-bit reproducibility
# across processes, tests/test_distributed.py), so `import reduced_dynamics` loads neither.
_OPTIONS = "reduced_dynamics.engine.options"
_STUDY = "reduced_dynamics.study"  # the engine with the landscape's task's study defaults
_LAZY = {
    "integrate": (_STUDY, "integrate"),
    "predict_grokking_times": (_STUDY, "predict_grokking_times"),
    "analyze_path": (_STUDY, "analyze_path"),
    "study_defaults": (_STUDY, "study_defaults"),
    "prepare_landscape": ("reduced_dynamics.engine.prepare", "prepare_landscape"),
    "EventOptions": (_OPTIONS, "EventOptions"),
    "SolverOptions": (_OPTIONS, "SolverOptions"),
    "InterpolantOptions": (_OPTIONS, "InterpolantOptions"),
    "validate": ("reduced_dynamics.validate", "validate"),
    "probe": ("reduced_dynamics.landscape.sweep", "probe_landscape"),
    "ProbeConfig": ("reduced_dynamics.config", "ProbeConfig"),
    "ProbeGrid": ("reduced_dynamics.landscape.sweep", "ProbeGrid"),
    "train": ("reduced_dynamics.training.sweep", "run_training"),
    "TrainConfig": ("reduced_dynamics.config", "TrainConfig"),
    "RunSet": ("reduced_dynamics.config", "RunSet"),
    "get_task": ("reduced_dynamics.tasks", "get_task"),
    "plot_landscape": ("reduced_dynamics.plot.landscape", "plot_landscape"),
    "plot_t_grok_vs_gamma": ("reduced_dynamics.plot.landscape", "plot_t_grok_vs_gamma"),
    "plot_validation_paths": ("reduced_dynamics.plot.landscape", "plot_validation_paths"),
    "plot_path": ("reduced_dynamics.plot.predictions", "plot_path"),
    "plot_path_1d": ("reduced_dynamics.plot.predictions", "plot_path_1d"),
    "plot_gamma": ("reduced_dynamics.plot.predictions", "plot_gamma"),
    "plot_runs": ("reduced_dynamics.plot.runs", "plot_runs"),
    "data_size_dependence": ("reduced_dynamics.datasize", "data_size_dependence"),
    "plot_datasize": ("reduced_dynamics.plot.datasize", "plot_datasize"),
    "open_datasize": ("reduced_dynamics.io.datasize_file", "open_datasize"),
    "predicted_phases": ("reduced_dynamics.phases", "predicted_phases"),
    "measured_phases": ("reduced_dynamics.phases", "measured_phases"),
    "compare_phases": ("reduced_dynamics.phases", "compare_phases"),
    "open_phases": ("reduced_dynamics.io.phases_file", "open_phases"),
    "plot_phases": ("reduced_dynamics.plot.phases", "plot_phases"),
    "plot_phase_comparison": ("reduced_dynamics.plot.phases", "plot_phase_comparison"),
}


def __getattr__(name: str) -> Any:
    """Load the lazily exported names (`_LAZY`) on first access."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """The package's module type: ``validate`` stays the function. Importing the submodule
    ``reduced_dynamics.validate`` makes the import system bind it as the package attribute
    ``validate``; this binds the submodule's function instead (the submodule itself stays
    importable: ``from reduced_dynamics.validate import table``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "validate" and isinstance(value, types.ModuleType):
            value = value.validate
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "EventOptions",
    "FileCheckError",
    "InputError",
    "InterpolantOptions",
    "PathStatus",
    "ProbeConfig",
    "ProbeGrid",
    "ReducedDynamicsError",
    "RunSet",
    "RunStatus",
    "SolverOptions",
    "TrainConfig",
    "WriteError",
    "analyze_path",
    "compare_phases",
    "data_size_dependence",
    "default_landscape",
    "get_task",
    "integrate",
    "measured_phases",
    "open_datasize",
    "open_landscape",
    "open_phases",
    "open_trajectories",
    "plot_datasize",
    "plot_gamma",
    "plot_landscape",
    "plot_path",
    "plot_path_1d",
    "plot_phase_comparison",
    "plot_phases",
    "plot_runs",
    "plot_t_grok_vs_gamma",
    "plot_validation_paths",
    "predict_grokking_times",
    "predicted_phases",
    "prepare_landscape",
    "probe",
    "save_landscape",
    "study_defaults",
    "train",
    "validate",
]
