"""Landscape preparation: a landscape (file, Dataset) opened and checked, one ``n_train``
selected on a landscape with that parameter axis, and its interpolant built once
(`PreparedLandscape`, reused by every prediction on it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_type
from reduced_dynamics.engine.interpolant import Interpolant, build_interpolant
from reduced_dynamics.engine.options import InterpolantOptions
from reduced_dynamics.engine.parameters import n_train_values, select_n_train
from reduced_dynamics.errors import FileCheckError, InputError, bad_value
from reduced_dynamics.io.landscape_file import open_landscape


@dataclass(frozen=True, eq=False)
class PreparedLandscape:
    """A checked landscape with its interpolant, built once and reused.

    ``dataset`` has the state axes only; ``parameters`` holds the values selected on the
    file's parameter axes (e.g. ``{"n_train": 316}``; empty when it has none)."""

    dataset: xr.Dataset
    interp: Interpolant
    source: str
    options: InterpolantOptions = field(default_factory=InterpolantOptions)
    parameters: dict = field(default_factory=dict)

    @property
    def w0(self) -> float:
        return self.interp.w0

    @property
    def has_m(self) -> bool:
        """Whether ``m`` is a state axis (else the landscape is 1-D in w)."""
        return self.interp.has_m

    @property
    def restart(self) -> str:
        """Which restart the landscape's values are: "seed S" (`restarts.restart_of`) or
        "best over seeds" (the file's reduced values)."""
        seed = self.dataset.attrs.get("restart_seed")
        return "best over seeds" if seed is None else f"seed {int(seed)}"

    @property
    def alpha_range(self) -> tuple[float, float]:
        lo, hi = self.interp.w_range
        return lo / self.w0, hi / self.w0


def opened(landscape: xr.Dataset | str | os.PathLike) -> tuple[xr.Dataset, str]:
    """(Dataset, its name for messages and attributes): a path is opened and checked."""
    if isinstance(landscape, xr.Dataset):
        return landscape, "<Dataset>"
    if isinstance(landscape, (str, os.PathLike)):
        return open_landscape(landscape), str(landscape)
    raise bad_value("landscape", type(landscape).__name__,
                    "an xarray.Dataset, a path to a landscape file or a PreparedLandscape")


def prepare_landscape(landscape: xr.Dataset | str | os.PathLike | PreparedLandscape,
                      options: InterpolantOptions | None = None, *,
                      n_train: int | None = None, source: str | None = None,
                      seed: int | None = None) -> PreparedLandscape:
    """Open/check the landscape (a file path, a Dataset), select ``n_train`` on a landscape
    with that parameter axis (required there), and build the interpolant of the slice.

    A `PreparedLandscape` is returned as it is unless other ``options`` are given.
    ``source``: the name shown for a Dataset (default ``<Dataset>``; a path names itself).
    ``seed``: the values of that init seed's restart (`landscape.restarts.restart_of`;
    None: the file's reduced values, the best over seeds)."""
    check_type("options", options, InterpolantOptions, "an InterpolantOptions or None",
               optional=True)
    if n_train is not None:
        check_int("n_train", n_train, 1, expected="a training-set size (an integer >= 1) "
                  "or None")
    check_type("source", source, str, "a str (the name shown in messages) or None",
               optional=True)
    from reduced_dynamics.landscape.restarts import check_restart_seed

    seed = check_restart_seed(seed)
    parameters: dict = {}
    if isinstance(landscape, PreparedLandscape):
        have_seed = landscape.dataset.attrs.get("restart_seed")
        if seed is not None and have_seed != seed:
            raise InputError(f"`seed` = {seed!r}, but this PreparedLandscape holds "
                             f"{landscape.restart} of {landscape.source}; prepare the "
                             "landscape file or Dataset again with this seed")
        have = landscape.parameters.get("n_train")
        if n_train is not None and have != n_train:
            raise InputError(
                f"`n_train` = {n_train!r}, but this PreparedLandscape is "
                + (f"the slice n_train = {have}" if have is not None else "a landscape "
                   "without an n_train axis") + f" of {landscape.source}; prepare the "
                "landscape file or Dataset again with this n_train")
        if options is None or options == landscape.options:
            return landscape
        parameters, n_train = dict(landscape.parameters), None
        landscape, source = landscape.dataset, landscape.source
    else:
        landscape, name = opened(landscape)
        source = source or name
        if seed is not None:
            from reduced_dynamics.landscape.restarts import restart_of

            landscape = restart_of(landscape, seed, source)
    options = options or InterpolantOptions()
    if n_train is not None or n_train_values(landscape):
        landscape = select_n_train(landscape, n_train, source=source)
    if "n_train" in landscape.coords and landscape["n_train"].ndim == 0:  # a slice
        parameters = {"n_train": int(landscape["n_train"])}
    if "w0" not in landscape.attrs:
        raise FileCheckError(f"landscape {source} lacks the global attribute `w0` (the "
                             f"decoder norm at init, for alpha = w/w0); it has "
                             f"{sorted(landscape.attrs)}")
    try:
        w0 = float(landscape.attrs["w0"])
    except (TypeError, ValueError):
        w0 = float("nan")
    if not (np.isfinite(w0) and w0 > 0):
        raise FileCheckError(f"landscape {source}: attribute `w0` must be a number > 0, "
                             f"got {landscape.attrs['w0']!r}")
    try:
        interp = build_interpolant(landscape, transform=options.transform,
                                   smoothing=options.smoothing, monotone=options.monotone,
                                   derivatives=options.derivatives)
    except FileCheckError as exc:
        raise FileCheckError(f"landscape {source}: {exc}") from None
    return PreparedLandscape(dataset=landscape, interp=interp, source=source, options=options,
                             parameters=parameters)


def unconverged_nodes(prep: PreparedLandscape, alpha: float, m: float
                      ) -> list[tuple[float, float]]:
    """(alpha, m) of the grid nodes around the start (alpha, m) whose constrained
    minimisation did not converge (the landscape's ``converged``); interpolated values
    and derivatives there are unreliable. m is NaN for a 1-D landscape."""
    ds = prep.dataset
    conv = ds["converged"]
    extra = [d for d in conv.dims if d not in ("w", "m")]
    if extra:
        conv = conv.all(extra)

    def cell(grid: np.ndarray, x: float) -> list[int]:
        if grid.size == 1:
            return [0]
        i = int(np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2))
        return [i, i + 1]

    w = ds["w"].values
    sel = {"w": cell(w, alpha * prep.w0)}
    if "m" in conv.dims:
        sel["m"] = cell(ds["m"].values, m)
    near = conv.isel(sel)
    bad = []
    for idx in np.argwhere(~near.transpose(*sel).values):
        a = float(w[sel["w"][idx[0]]]) / prep.w0
        mm = float(ds["m"].values[sel["m"][idx[1]]]) if "m" in sel else float("nan")
        bad.append((a, mm))
    return bad
