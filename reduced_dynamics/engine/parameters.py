"""Parameter axes of a landscape (SPEC §11): selected before integrating, never evolved.

A landscape's grid has *state* axes, which the reduced dynamics (Eq. 6) evolves — ``w``,
and ``m`` where the task has a representation line — and *parameter* axes, fixed for a run:
``n_train``, the training-set size N. Predictions on a (w, n_train) or (w, m, n_train)
landscape first select one N (`select_n_train`: exact grid values only, no interpolation
in N), then integrate over the state axes.

The **critical data size** (`critical_n_train`) is the smallest N on the grid at which the
reduced test accuracy reaches the task's grokking threshold (or the reduced test loss falls
to a loss threshold) at some grid point of the state axes; below it the reduced picture
predicts no generalisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import xarray as xr

from reduced_dynamics.engine.thresholds import grok_threshold_of
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.names import PARAMETER_DIMS


def n_train_values(ds: xr.Dataset) -> list[int]:
    """The landscape's training-set sizes, or [] when it has no ``n_train`` axis."""
    return [int(v) for v in ds["n_train"].values] if "n_train" in ds.dims else []


def select_n_train(ds: xr.Dataset, n_train: object, *, name: str = "n_train",
                   source: str = "") -> xr.Dataset:
    """The slice of ``ds`` at training-set size ``n_train`` (an exact grid value).

    ``n_train=None`` is allowed only for a landscape without the axis (returned unchanged).
    The result keeps ``n_train`` as a scalar coordinate and has the state axes only.
    """
    where = f"landscape {source}".rstrip()
    values = n_train_values(ds)
    if not values:
        if n_train is None:
            return ds
        raise InputError(f"`{name}` was given ({n_train!r}) but {where} has no n_train axis "
                         f"(dims {list(ds.sizes)}); drop `{name}`")
    if n_train is None:
        raise InputError(f"{where} has the parameter axis n_train (training-set size) with "
                         f"values {values}; choose one with `{name}`")
    try:
        value = float(n_train)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise bad_value(name, n_train, f"one of the landscape's training-set sizes "
                        f"{values}") from None
    if value not in values:
        raise bad_value(name, n_train, f"one of the landscape's training-set sizes {values} "
                        "(predictions use grid values only; N is not interpolated)")
    return ds.sel(n_train=int(value))


@dataclass(frozen=True)
class CriticalDataSize:
    """Result of `critical_n_train`.

    ``n_train``: the critical data size, None when no N on the grid reaches the threshold.
    ``best[k]``: the largest test accuracy (``on="acc"``) or smallest test loss over the
    state grid at ``n_values[k]``, reached at ``best_alpha[k]`` (and ``best_m[k]``)."""

    n_train: int | None
    on: str
    threshold: float
    threshold_source: str
    n_values: tuple[int, ...]
    best: tuple[float, ...]
    best_alpha: tuple[float, ...]
    best_m: tuple[float, ...] | None

    def describe(self) -> str:
        """One line for `info` and `predict`."""
        test = (f"test_acc >= {self.threshold:g}" if self.on == "acc"
                else f"test_loss <= {self.threshold:g}")
        head = ("critical data size: none on the grid" if self.n_train is None
                else f"critical data size N_c = {self.n_train}")
        where = "(w, m)" if self.best_m is not None else "w"
        return (f"{head} (smallest N with reduced {test} for some {where}; threshold from "
                f"{self.threshold_source})")


def critical_n_train(landscape: xr.Dataset | str | os.PathLike, threshold: float | None = None,
                     *, on: str | None = None) -> CriticalDataSize:
    """The critical data size (SPEC §11) of a landscape with an ``n_train`` axis.

    N_c = min{N on the grid : max over state nodes of test_acc(·, N) ≥ threshold}, or with
    ``on="loss"`` min over state nodes of test_loss(·, N) ≤ threshold. Grid nodes, not the
    interpolant; NaN values (diverged points) are skipped. ``threshold=None``: the file's
    `grok_threshold_of` (0.95 on accuracy when the file stores none); ``on`` defaults to
    what the file's threshold is about, else "acc". A loss threshold must be given.
    """
    ds = landscape if isinstance(landscape, xr.Dataset) else open_landscape(landscape)
    values = n_train_values(ds)
    if not values:
        raise InputError(f"the critical data size needs a landscape with an n_train axis; "
                         f"this one has dims {list(ds.sizes)}")
    if on not in (None, "acc", "loss"):
        raise bad_value("on", on, "'acc' or 'loss'")
    file_value, file_on, file_source = grok_threshold_of(ds)
    if threshold is None:
        if on is not None and on != file_on:
            raise InputError(f"`threshold` is needed for on={on!r}: the file's threshold "
                             f"({file_value:g}, from {file_source}) is a test-{file_on} one")
        threshold, on, source = file_value, file_on, file_source
    else:
        on = on or "acc"
        source = "the argument"
    ok = np.isfinite(threshold) and threshold > 0 and (on == "loss" or threshold <= 1)
    if not ok:
        raise bad_value("threshold", threshold, "an accuracy in (0, 1]" if on == "acc"
                        else "a finite loss > 0")
    var = ds["test_acc" if on == "acc" else "test_loss"]
    state = [d for d in var.dims if d not in PARAMETER_DIMS]
    z = np.asarray(var.transpose("n_train", *state).values, float).reshape(len(values), -1)
    score = np.where(np.isfinite(z), z if on == "acc" else -z, -np.inf)
    k = np.argmax(score, axis=1)
    best = z[np.arange(len(values)), k]
    reached = (best >= threshold) if on == "acc" else (best <= threshold)
    reached &= np.isfinite(best)
    idx = np.unravel_index(k, tuple(ds.sizes[d] for d in state))
    alpha = ds["alpha"].values[idx[state.index("w")]]
    m = ds["m"].values[idx[state.index("m")]] if "m" in state else None
    first = np.flatnonzero(reached)
    return CriticalDataSize(
        n_train=int(values[first[0]]) if first.size else None, on=on,
        threshold=float(threshold), threshold_source=source, n_values=tuple(values),
        best=tuple(float(b) for b in best), best_alpha=tuple(float(a) for a in alpha),
        best_m=None if m is None else tuple(float(v) for v in m))
