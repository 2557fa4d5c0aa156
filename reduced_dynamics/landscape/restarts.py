"""Restarts of a probe (init seeds): the reduced value as the best restart, the monotone
test of a ReLU decoder's l~_train(w), and one restart's landscape (`restart_of`), numpy and
xarray only (predictions import it without torch)."""

from __future__ import annotations

import json
import os

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int
from reduced_dynamics.errors import InputError
from reduced_dynamics.names import RunStatus

__all__ = ["check_restart_seed", "monotone_violation", "per_seed_arrays", "reduce_over_seeds",
           "restart_of", "restart_seeds"]


def check_restart_seed(seed: object) -> int | None:
    """``seed`` as an int (None: the best over seeds); `InputError` naming it otherwise."""
    if seed is None:
        return None
    return check_int("seed", seed, 0, expected="an init seed (an integer >= 0) or None (the "
                     "best over seeds)")


def monotone_violation(train_loss: np.ndarray, tol: float, abs_tol: float = 0.0
                       ) -> np.ndarray:
    """Where l~_train(w) > (1 + tol) min_{w' < w} l~_train(w') + abs_tol.

    For ReLU decoders l~_train is non-increasing in w (Omnigrok footnote 2: scaling the
    first layer by c and the second layer's weights by 1/c keeps the function and raises the
    norm), so such a point is a failed minimisation, not a feature. Axis 0 is w.
    """
    running_min = np.fmin.accumulate(np.where(np.isfinite(train_loss), train_loss, np.inf), 0)
    previous = np.concatenate([np.full_like(train_loss[:1], np.inf), running_min[:-1]], 0)
    return train_loss > (1.0 + tol) * previous + abs_tol


def reduce_over_seeds(per_seed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reduced value = the restart with the lowest train_loss (SPEC §2); keeps ``best_seed``.

    Only restarts that did not diverge (``status``, where given) with a finite train_loss
    compete. Where every restart diverged, the one that diverged last is kept: the point
    is NaN, not converged, with status diverged.
    """
    loss = per_seed["train_loss"]
    ok = np.isfinite(loss)
    if "status" in per_seed:
        ok &= per_seed["status"] == RunStatus.OK
    best = np.argmin(np.where(ok, loss, np.inf), axis=0)
    if "diverged_step" in per_seed:
        last = np.argmax(np.nan_to_num(per_seed["diverged_step"], nan=-1.0), axis=0)
        best = np.where(ok.any(axis=0), best, last)
    out = {k: np.take_along_axis(v, best[None], axis=0)[0] for k, v in per_seed.items()}
    if "status" in out:
        lost = out["status"] == RunStatus.DIVERGED
        for k, v in out.items():
            if k == "converged":
                v[lost] = False
            elif k != "diverged_step" and np.issubdtype(v.dtype, np.floating):
                v[lost] = np.nan
    out["best_seed"] = best.astype(np.int64)
    return out


def restart_seeds(ds: xr.Dataset) -> tuple[int, ...]:
    """The init seeds whose restarts a landscape keeps (``*_by_seed`` over ``seed``); ()
    for a file without them."""
    if "seed" not in ds.coords or "train_loss_by_seed" not in ds.data_vars:
        return ()
    return tuple(int(s) for s in np.atleast_1d(ds["seed"].values))


def restart_of(ds: xr.Dataset, seed: int, source: str | os.PathLike = "<Dataset>"
               ) -> xr.Dataset:
    """The landscape of restart ``seed`` alone: every reduced variable replaced by its
    ``*_by_seed`` value for that init seed; ``converged`` is that restart's, and for a
    positively homogeneous task (the file's ``converged_means`` names the monotone test)
    also the monotone test on that restart's l~_train(w) (`monotone_violation`). On a merge
    of seeds (``w0_by_seed``, `landscape.merge`) the w axis and ``w0`` become restart S's
    own. The attribute ``restart_seed`` records the seed. `InputError` naming the seeds the file has
    when ``seed`` is not one of them."""
    seeds = restart_seeds(ds)
    seed = check_restart_seed(seed)
    if seed is None or seed not in seeds:
        have = (f"restarts for seeds {list(seeds)}" if seeds else "no per-restart values "
                "(*_by_seed)")
        raise InputError(f"`seed` = {seed}: landscape {source} has {have}; pick one of those, "
                         "or leave the seed out for the best over seeds")
    out = ds.copy()
    for name in list(ds.data_vars):
        if not name.endswith("_by_seed"):
            continue
        base = name.removesuffix("_by_seed")
        values = ds[name].sel(seed=int(seed)).drop_vars("seed")
        attrs = ds[base].attrs if base in ds else ds[name].attrs
        out[base] = values.assign_attrs(attrs)
    config = json.loads(ds.attrs.get("config_json", "{}") or "{}")
    probe = config.get("probe", {}) if isinstance(config, dict) else {}
    if "minimum over smaller w" in str(config.get("converged_means", "")):
        loss = out["train_loss"]
        order = ["w", *[d for d in loss.dims if d != "w"]]
        bad = monotone_violation(loss.transpose(*order).values,
                                 float(probe.get("monotone_tol", 0.1)),
                                 float(probe.get("monotone_abs_tol", 1e-3)))
        bad_da = xr.DataArray(bad, dims=order).transpose(*loss.dims)
        out["converged"] = (out["converged"].astype(bool) & ~bad_da).assign_attrs(
            ds["converged"].attrs)
    if "w0_by_seed" in ds:  # a merge of seeds: restart S lies on the spheres alpha w0(S)
        w0 = float(ds["w0_by_seed"].sel(seed=int(seed)))
        out = out.drop_vars("w0_by_seed").assign_coords(
            w=("w", ds["alpha"].values * w0, ds["w"].attrs))
        out.attrs["w0"] = w0
    if "best_seed" in out:
        out["best_seed"] = xr.full_like(out["best_seed"], seeds.index(int(seed)))
    out.attrs["restart_seed"] = int(seed)
    return out


def per_seed_arrays(src: xr.Dataset, names: list[str], shape: tuple[int, ...]
                     ) -> dict[str, np.ndarray]:
    """A landscape's ``*_by_seed`` arrays of ``names`` as (seed, w, m, n_train) in
    ``shape``; a file written before ``status`` existed counts every point as ok."""
    out = {}
    for k in names:
        var = f"{k}_by_seed"
        if var in src:
            order = [d for d in ("seed", "w", "m", "n_train") if d in src[var].dims]
            out[k] = src[var].transpose(*order).values.reshape(shape)
        elif k == "status":
            out[k] = np.full(shape, RunStatus.OK, np.int64)
        elif k == "diverged_step":
            out[k] = np.full(shape, np.nan)
        else:
            raise InputError(f"the landscape has no `{var}`, which is needed here")
    return out
