"""The reduced dynamics (Eq. 6): interpolant, right-hand side, steppers, predictions.

Numba and numpy only: no torch, no task registry. Kernels are pure functions of arrays.
One step per module, as scipy's ``integrate/_ivp``: `predict` (the entry points
`integrate`, `integrate_paired`, `predict_grokking_times`, `analyze_path`), `options`,
`prepare` (the landscape and its `interpolant`), `inputs` (rates and starts), `solve` (the
kernel call, on threads), `results` (the Datasets), `fits`; the kernels: `dynamics` (the
right-hand side and event functions), `rosenbrock` and `dopri` (the steppers), `events`
(root finding on the dense output), `driver` (the loop over steps and over paths).
`parameters` (the n_train axis, the critical data size), `path_analysis` (points A–E,
closed and geometric forms), `thresholds` (the task's grokking threshold).

The public names below are importable from here (``from reduced_dynamics.engine import
integrate``); they load on first access, so importing a light module of the engine (e.g.
`thresholds`) does not import numba.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module of the engine that defines it
_EXPORTS = {
    "integrate": "predict",
    "integrate_paired": "predict",
    "predict_grokking_times": "predict",
    "analyze_path": "predict",
    "EventOptions": "options",
    "SolverOptions": "options",
    "InterpolantOptions": "options",
    "PreparedLandscape": "prepare",
    "prepare_landscape": "prepare",
    "fit_exponent": "fits",
    "critical_n_train": "parameters",
    "select_n_train": "parameters",
}


def __getattr__(name: str) -> Any:
    """Load an exported name (`_EXPORTS`) from its module on first access."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = sorted(_EXPORTS)
