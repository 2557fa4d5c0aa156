"""Task defaults of the engine commands (``predict``, ``path``, ``gamma-plot``).

The engine takes explicit starts, weight decays and learning rates; the CLI fills in what
the user left out from the task that made the landscape (its ``task`` attribute, looked up
in the task registry): the study start (`TaskEntry.alpha0`, ``m0``) and γ list
(`TaskEntry.gammas`) that `train` uses, and the task's training rates — so predictions and
runs compare. For a task the registry does not know, the engine's landscape-derived
defaults (`predict.default_start`, `predict.default_gammas`) and η = 1e-3.
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.cli.gridspec import parse_list
from reduced_dynamics.engine import predict
from reduced_dynamics.engine.predict import PreparedLandscape
from reduced_dynamics.names import BOUNDARY_LOSS
from reduced_dynamics.tasks import REGISTRY, TaskEntry

UNKNOWN_TASK_ETA = 1e-3  # η_D and η_R for a landscape of an unregistered task


def task_entry(prep: PreparedLandscape) -> TaskEntry | None:
    """The registered task that made this landscape (its ``task`` attribute), or None."""
    return REGISTRY.get(str(prep.dataset.attrs.get("task", "")))


def start(prep: PreparedLandscape) -> tuple[float, float]:
    """(alpha, m): the task's study start (m clipped to the grid), else
    `predict.default_start`. m is 0 (never shown) on a landscape without m."""
    entry = task_entry(prep)
    if entry is None:
        return predict.default_start(prep)
    m_lo, m_hi = prep.interp.m_range
    m0 = float(min(max(entry.m0, m_lo), m_hi)) if prep.has_m else 0.0
    return float(entry.alpha0.split(",")[0]), m0


def gammas(prep: PreparedLandscape, theta_train: float = BOUNDARY_LOSS) -> np.ndarray:
    """The task's study γ list (as `train` uses), else `predict.default_gammas`."""
    entry = task_entry(prep)
    if entry is None:
        return predict.default_gammas(prep, theta_train)
    return parse_list("gamma", entry.gammas, minimum=0.0)


def etas(prep: PreparedLandscape) -> tuple[float, float]:
    """(η_D, η_R): the task's training rates, else `UNKNOWN_TASK_ETA` for both."""
    entry = task_entry(prep)
    if entry is None:
        return UNKNOWN_TASK_ETA, UNKNOWN_TASK_ETA
    return entry.train.eta_d, entry.train.eta_r


def help_fragments() -> dict[str, str]:
    """Help-text fragments listing each registered task's defaults (`TaskEntry`)."""
    starts, gamma_lists, path_gamma, eta_d = [], [], [], []
    for e in REGISTRY.values():
        alpha0 = e.alpha0.split(",")[0]
        starts.append(f"{e.name} {alpha0}" + (f",{e.m0:g}" if e.has_m else ""))
        gamma_lists.append(f"{e.name} {e.gammas}")
        g = parse_list("gamma", e.gammas, minimum=0.0)
        path_gamma.append(f"{e.name} {g[min(3, g.size - 1)]:.3g}")
        eta_d.append(f"{e.name} {e.train.eta_d:g}")
    return {"start": "; ".join(starts), "gamma": "; ".join(gamma_lists),
            "path_gamma": "; ".join(path_gamma), "eta_d": "; ".join(eta_d)}
