"""Landscapes of different init seeds merged into one file of restarts (``merge-seeds``).

Each source is a finished landscape of the same task config, probe settings and α grid,
probed for other seeds. Restarts are aligned on α = w / w0: restart S was probed at
w = α w0(S) (the norm a run of seed S starts at for α0 = α), and ``w0_by_seed`` keeps each
w0(S) so that `restarts.restart_of` gives restart S on its own spheres. The reduced values
are recomputed exactly as the probe computes them (`sweep.landscape_of_restarts`: the best
restart per α, the monotone test), so they compare restarts at equal α (their w differ by
w0(S) / w0(first), about 1 % for toy addition's seeds 0 and 1).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.errors import InputError
from reduced_dynamics.io.fingerprint import config_diff
from reduced_dynamics.io.landscape_file import open_landscape, save_landscape
from reduced_dynamics.io.lock import check_output, output_lock
from reduced_dynamics.io.schema import config_of
from reduced_dynamics.landscape.continuation import grid_of, task_and_probe_of
from reduced_dynamics.landscape.restarts import per_seed_arrays
from reduced_dynamics.landscape.sweep import ProbeGrid, landscape_of_restarts

__all__ = ["merge_seeds"]

KEPT_PER_SOURCE = ("device", "device_name", "torch_threads", "flush_denormal")
"""Settings that may differ between the sources (they change rounding, not the recipe);
kept per source in ``config_json``'s ``merged_from``."""


def merge_seeds(paths: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                overwrite: bool = False, history: str = "") -> xr.Dataset:
    """Merge the landscape files ``paths`` (disjoint init seeds, module docstring) into
    ``output``; returns the merged Dataset. Refused before anything is written: fewer than
    two files, another task, task config, probe setting, continuation setting or α grid,
    or a seed in two files."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise InputError(f"`paths` must name at least two landscape files, got {len(paths)}")
    sources = [open_landscape(p) for p in paths]
    grids = [grid_of(ds) for ds in sources]
    configs = [config_of(ds) for ds in sources]
    first, base = sources[0], paths[0]
    task, probe = task_and_probe_of(first)
    alpha = first["alpha"].values
    seen: dict[int, Path] = {}
    for path, ds, g in zip(paths, sources, grids):
        _check_same(base, path, first, ds, alpha)
        for s in g.seeds:
            if s in seen:
                raise InputError(f"seed {s} is in both {seen[s]} and {path}; merge files of "
                                 "disjoint seeds")
            seen[s] = path
    output = check_output(output, "landscape", inputs=paths, overwrite=overwrite)
    order = sorted(seen)
    w0 = {s: float(ds.attrs["w0"]) for ds, g in zip(sources, grids) for s in g.seeds}
    names = list(dict.fromkeys(
        [*(v.removesuffix("_by_seed") for ds in sources for v in ds.data_vars
           if v.endswith("_by_seed")), "status", "diverged_step"]))
    arrays = [per_seed_arrays(ds, names, g.shape) for ds, g in zip(sources, grids)]
    index = np.argsort(np.concatenate([g.seeds for g in grids]))
    per_seed = {k: np.concatenate([a[k] for a in arrays])[index] for k in names}
    merged_grid = ProbeGrid(tuple(map(float, alpha * w0[order[0]])), grids[0].m, tuple(order),
                            grids[0].n_train)
    config = {k: v for k, v in configs[0].items() if k not in KEPT_PER_SOURCE}
    config.update(seeds=order, w0_seed=order[0], merged_from=[
        {"file": p.name, "seeds": list(g.seeds), **{k: c[k] for k in KEPT_PER_SOURCE if k in c}}
        for p, g, c in zip(paths, grids, configs)])
    config["aligned_on"] = ("alpha = w / w0(seed): restart S was probed at w = alpha w0(S) "
                            "(w0_by_seed)")
    hist = "\n".join([*(ds.attrs.get("history", "") for ds in sources), history])
    with output_lock(output):
        ds = landscape_of_restarts(task, probe, merged_grid, per_seed, config,
                                   history=hist.strip(),
                                   torch_version=str(first.attrs.get("torch_version", "")),
                                   w0=w0[order[0]])
        ds["w0_by_seed"] = ("seed", np.array([w0[s] for s in order]),
                            {"long_name": "decoder norm at init of each restart's seed, w0(S)",
                             "units": "1"})
        save_landscape(ds, output)
    return ds


def _check_same(base: Path, path: Path, first: xr.Dataset, ds: xr.Dataset,
                alpha: np.ndarray) -> None:
    """Refuse a source that was not probed like the first one (naming what differs)."""
    if "w0_by_seed" in ds:
        raise InputError(f"{path} is itself a merge of seeds; merge the original landscape "
                         "files instead")
    if ds.attrs.get("task") != first.attrs.get("task"):
        raise InputError(f"{path} is a landscape of task {ds.attrs.get('task')!r}, {base} of "
                         f"{first.attrs.get('task')!r}; merge landscapes of one task")
    (ta, pa), (tb, pb) = task_and_probe_of(first), task_and_probe_of(ds)
    ca, cb = config_of(first), config_of(ds)
    for what, a, b in (("task config", ta.to_dict(), tb.to_dict()),
                       ("probe settings", pa.to_dict(), pb.to_dict()),
                       ("continuation", _cont(ca), _cont(cb))):
        diff = config_diff(a, b)
        if diff:
            shown = "; ".join(f"{k}: {x!r} vs {y!r}" for k, x, y in diff[:5])
            raise InputError(f"{path} and {base} differ in their {what} ({shown}); merge "
                             "landscapes probed alike")
    other = ds["alpha"].values
    if other.shape != alpha.shape or not np.allclose(other, alpha, rtol=1e-9, atol=0):
        raise InputError(f"{path} and {base} have different alpha grids; merge landscapes "
                         "probed on the same alpha grid")
    for dim in ("m", "n_train"):
        if (dim in ds.coords) != (dim in first.coords) or (
                dim in ds.coords and not np.array_equal(ds[dim].values, first[dim].values)):
            raise InputError(f"{path} and {base} have different {dim} grids")
    optional = {"status", "diverged_step", "status_by_seed", "diverged_step_by_seed"}
    if set(first.data_vars) - optional != set(ds.data_vars) - optional:
        raise InputError(f"{path} and {base} hold different variables; merge landscapes "
                         "made by the same command")


def _cont(config: dict) -> dict:
    cont = dict(config.get("continuation") or {})
    cont.pop("source", None)
    return cont
