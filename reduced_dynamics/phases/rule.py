"""The phase rule of SPEC §15 (Liu et al. 2022) and the layout of a phase diagram: the
thresholds t_train and t_test are measured against (`PhaseThresholds`), the step budget T
and gap τ (`check_budget`), the rule itself (`classify`), the grid of two parameters
(`check_grid`) and the Dataset of `io.phases_file` (`phase_dataset`).

With t_train, t_test the first steps with train accuracy ≥ the train threshold and with
the test event (test accuracy ≥ the test threshold, or test loss ≤ it for a task that
groks on loss), NaN or a time > T meaning "not within T": comprehension when t_test ≤ T
and either t_train ≤ T with t_test − t_train < τ or t_train is not within T (a run that
generalises without fitting); grokking when both are within T and t_test − t_train ≥ τ;
memorisation when only t_train is; confusion when neither is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_choice, check_real, plain_fields
from reduced_dynamics.engine.options import EventOptions
from reduced_dynamics.engine.thresholds import grok_threshold_of, train_threshold_of
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.io.schema import FILE_KIND_ATTR, now_iso, package_version
from reduced_dynamics.names import (
    ACC_THRESHOLD,
    PHASE_AXES,
    PHASE_AXIS_META,
    PHASE_T,
    PHASE_TAU,
    PHASE_VAR_META,
    Phase,
    flag_attrs,
)


@dataclass(frozen=True)
class PhaseThresholds:
    """What t_train and t_test are measured against: train accuracy ≥ ``train_acc``; the
    test event test accuracy ≥ ``test`` (``test_on="acc"``) or test loss ≤ ``test``
    (``"loss"``). `of` reads a file's task's."""

    train_acc: float = ACC_THRESHOLD
    test: float = ACC_THRESHOLD
    test_on: str = "acc"

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_real("train_acc", self.train_acc, low=0.0, low_open=True, high=1.0,
                   expected="a train accuracy in (0, 1]")
        check_choice("test_on", self.test_on, ("acc", "loss"))
        if self.test_on == "acc":
            check_real("test", self.test, low=0.0, low_open=True, high=1.0,
                       expected="a test accuracy in (0, 1] (test_on='acc')")
        else:
            check_real("test", self.test, low=0.0, low_open=True,
                       expected="a finite test loss > 0 (test_on='loss')")

    @classmethod
    def of(cls, ds: xr.Dataset) -> PhaseThresholds:
        """The thresholds of the task recorded in a landscape's or runs file's config_json:
        ``task.train_acc_threshold`` and ``task.grok_threshold`` (module docstring)."""
        train, _ = train_threshold_of(ds)
        test, on, _ = grok_threshold_of(ds)
        return cls(train_acc=train, test=test, test_on=on)

    def events(self) -> EventOptions:
        """The engine's events for these thresholds: overfit on the interpolated train
        accuracy, grok on the interpolated test accuracy (or test loss)."""
        if self.test_on == "loss":
            return EventOptions(overfit_on="acc", train_acc_threshold=self.train_acc,
                                grok_on="loss", theta_test=self.test)
        return EventOptions(overfit_on="acc", train_acc_threshold=self.train_acc,
                            grok_on="acc", acc_threshold=self.test)

    def describe(self) -> str:
        """``train_acc >= 0.9, test_acc >= 0.9``: the two events in words."""
        test = (f"test_acc >= {self.test:g}" if self.test_on == "acc"
                else f"test_loss <= {self.test:g}")
        return f"train_acc >= {self.train_acc:g}, {test}"


def check_budget(T: object, tau: object) -> tuple[float, float]:
    """The rule's T (> 1 step) and τ (≥ 0) as floats; `InputError` naming them."""
    t = check_real("T", T, low=1.0, low_open=True,
                   expected="a finite step budget > 1 (SPEC 15: 1e5)")
    g = check_real("tau", tau, low=0.0, expected="a finite gap >= 0 in steps (SPEC 15: 1e3)")
    return t, g


def classify(t_train: object, t_test: object, T: float = PHASE_T, tau: float = PHASE_TAU
             ) -> np.ndarray:
    """SPEC §15's phase (`names.Phase` codes, int8) of every (t_train, t_test) pair; NaN or
    a time > T: not within the budget (module docstring)."""
    T, tau = check_budget(T, tau)
    tr = np.asarray(t_train, float)
    te = np.asarray(t_test, float)
    with np.errstate(invalid="ignore"):
        fit = np.isfinite(tr) & (tr <= T)
        gen = np.isfinite(te) & (te <= T)
        gap = te - tr
        out = np.full(np.broadcast(tr, te).shape, int(Phase.CONFUSION), np.int8)
        out[fit & ~gen] = Phase.MEMORISATION
        out[gen & fit & (gap >= tau)] = Phase.GROKKING
        out[gen & (~fit | (gap < tau))] = Phase.COMPREHENSION
    return out


def within(t: np.ndarray, T: float) -> np.ndarray:
    """``t`` with every time not within T as NaN."""
    t = np.asarray(t, float).copy()
    with np.errstate(invalid="ignore"):
        t[~(t <= T)] = np.nan
    return t


# ------------------------------------------------------------------------------- the grid
def check_grid(grid: object) -> dict[str, np.ndarray]:
    """``grid``: a dict of exactly two of `names.PHASE_AXES` -> non-empty lists of finite,
    distinct numbers; returned with each list sorted (float, int for ``n_train``), in the
    dict's order (the first axis is the figure's x). Ranges are checked where the values
    are used (rates by the engine, starts against the landscape grid)."""
    if not isinstance(grid, dict):
        raise bad_value("grid", type(grid).__name__, "a dict of two grid axes, e.g. "
                        "{'eta_d': [1e-4, 1e-3], 'gamma': [0, 1, 2]}")
    unknown = [k for k in grid if k not in PHASE_AXES]
    if unknown or len(grid) != 2:
        raise InputError(f"`grid` must have exactly two axes among {list(PHASE_AXES)}, got "
                         f"{list(grid)}" + (f" (unknown: {unknown})" if unknown else ""))
    out = {}
    for name, values in grid.items():
        try:
            arr = np.atleast_1d(np.asarray(values, dtype=float))
        except (TypeError, ValueError):
            raise bad_value(f"grid[{name!r}]", values, "a non-empty list of numbers") from None
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise bad_value(f"grid[{name!r}]", values, "a non-empty 1-D list of finite numbers")
        if np.unique(arr).size != arr.size:
            raise bad_value(f"grid[{name!r}]", arr.tolist(), "distinct values (each cell once)")
        arr = np.sort(arr)
        if name == "n_train":
            if np.any(arr < 1) or np.any(arr != np.round(arr)):
                raise bad_value("grid['n_train']", arr.tolist(), "training-set sizes, "
                                "integers >= 1")
            arr = arr.astype(np.int64)
        out[name] = arr
    return out


# --------------------------------------------------------------------------- the Dataset
def phase_dataset(axes: dict[str, np.ndarray], t_train: np.ndarray, t_test: np.ndarray, *,
                  T: float, tau: float, thresholds: PhaseThresholds, task: dict,
                  attrs: dict, phase: np.ndarray | None = None) -> xr.Dataset:
    """A phase-diagram Dataset (`io.phases_file`) over ``axes`` with times ``t_train``,
    ``t_test`` (NaN: not within T); ``phase`` defaults to `classify` of them; ``task``:
    the attributes of the file it came from (task, preset, config_json)."""
    dims = tuple(axes)
    if phase is None:
        phase = classify(t_train, t_test, T, tau)

    def meta(name: str) -> dict:
        long_name, units = PHASE_VAR_META[name]
        return {"long_name": long_name, "units": units}

    data = {"phase": (dims, np.asarray(phase, np.int8), {**meta("phase"),
                                                          **flag_attrs(Phase)}),
            "t_train": (dims, np.asarray(t_train, float), meta("t_train")),
            "t_test": (dims, np.asarray(t_test, float), meta("t_test"))}
    coords = {k: (k, v, {"long_name": PHASE_AXIS_META[k][0], "units": PHASE_AXIS_META[k][1]})
              for k, v in axes.items()}
    base = {"Conventions": "CF-1.8", "task": str(task.get("task", "")),
            "preset": str(task.get("preset", "")),
            "config_json": str(task.get("config_json", "{}")),
            "T": float(T), "tau": float(tau), "train_threshold": thresholds.train_acc,
            "test_threshold": thresholds.test, "test_on": thresholds.test_on,
            "events": thresholds.describe(), "package_version": package_version(),
            "date_created": now_iso(), FILE_KIND_ATTR: "phases"}
    return xr.Dataset(data, coords=coords, attrs={**base, **attrs})


def thresholds_of(ds: xr.Dataset) -> PhaseThresholds:
    """The thresholds a phase-diagram Dataset was classified with (its attributes)."""
    return PhaseThresholds(train_acc=float(ds.attrs["train_threshold"]),
                           test=float(ds.attrs["test_threshold"]),
                           test_on=str(ds.attrs["test_on"]))


