"""Property-based: every command that reads files gives one clear error for a bad file.

Mutations of a valid landscape or trajectory file (wrong dims, shuffled or duplicate
coordinates, NaN/inf, wrong dtypes, truncation, missing attributes, a `config_json` that is
not JSON, bytes that are not netCDF) are fed to each reading command; each must exit with
status 2 and one ``error:`` line naming the file, never a traceback or a result.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import make_landscape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reduced_dynamics.cli.main import main
from reduced_dynamics.io.schema import FILE_KIND_ATTR, REQUIRED_ATTRS


def _trajectories() -> xr.Dataset:
    n, k = 3, 6
    step = np.array([0, 1, 3, 10, 30, 100])
    logs = {v: (("run", "step"), np.linspace(0.1, 1.0, n * k).reshape(n, k))
            for v in ("w", "m", "residual", "train_loss", "test_loss", "train_acc", "test_acc")}
    logs["w"] = (("run", "step"), np.full((n, k), 50.0))
    logs["m"] = (("run", "step"), np.full((n, k), 0.1))
    return xr.Dataset(
        logs | {"t_overfit": ("run", [1.0, 3.0, np.nan]), "t_grok": ("run", [10.0, 30.0, 100])},
        coords={"run": np.arange(n), "step": step, "gamma": ("run", [0.1, 0.3, 1.0]),
                "eta_d": ("run", [1e-3] * n), "eta_r": ("run", [1e-3] * n),
                "seed": ("run", [0, 1, 0]), "alpha0": ("run", [5.0] * n),
                "m0": ("run", [0.1] * n)},
        attrs={k: "x" for k in REQUIRED_ATTRS} | {"config_json": "{}", "w0": 10.0,
                                                  FILE_KIND_ATTR: "trajectory"})


def _mutate(ds: xr.Dataset, kind: str, data: st.DataObject) -> xr.Dataset | bytes:
    """One invalidating change, drawn by hypothesis."""
    dims = list(ds.dims)
    if kind == "drop_var":
        return ds.drop_vars(data.draw(st.sampled_from(sorted(map(str, ds.data_vars)))))
    if kind == "rename_dim":
        dim = data.draw(st.sampled_from(dims))
        return ds.rename({dim: dim + "_x"})
    if kind == "shuffle_coord":
        dim = data.draw(st.sampled_from([d for d in dims if ds.sizes[d] > 1]))
        order = data.draw(st.permutations(range(ds.sizes[dim])).filter(
            lambda p: list(p) != sorted(p)))
        return ds.isel({dim: list(order)})
    if kind == "duplicate_coord":
        dim = data.draw(st.sampled_from([d for d in dims if ds.sizes[d] > 1]))
        values = ds[dim].values.copy()
        values[1] = values[0]
        return ds.assign_coords({dim: values})
    if kind == "nonfinite":
        var = data.draw(st.sampled_from([v for v in ("train_loss", "test_loss", "w", "m",
                                                     "test_acc") if v in ds.data_vars]))
        bad = ds.copy(deep=True)
        flat = bad[var].values.reshape(-1)
        flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(
            st.sampled_from([np.nan, np.inf, -np.inf]))
        if "converged" in bad:
            bad["converged"][...] = True
        if var != "train_loss" and "train_loss" in bad and "converged" not in bad:
            bad["train_loss"][...] = 0.5  # logged everywhere
        return bad
    if kind == "wrong_dtype":
        var = data.draw(st.sampled_from(["train_loss", "test_loss"]))
        return ds.assign({var: ds[var].astype(str)})
    if kind == "drop_attr":
        bad = ds.copy()
        del bad.attrs[data.draw(st.sampled_from(sorted(REQUIRED_ATTRS)))]
        return bad
    if kind == "bad_json":
        bad = ds.copy()
        bad.attrs["config_json"] = data.draw(st.sampled_from(["{", "not json", "[1,", "{'a': 1}"]))
        return bad
    if kind == "truncate":  # a netCDF4/HDF5 file cut short, as our files are written
        with tempfile.TemporaryDirectory() as folder:
            ds.to_netcdf(f"{folder}/x.nc", engine="netcdf4")
            raw = Path(f"{folder}/x.nc").read_bytes()
        return raw[: data.draw(st.integers(0, len(raw) - 1))]
    if kind == "not_netcdf":
        return data.draw(st.binary(min_size=0, max_size=200).filter(
            lambda b: not b.startswith((b"\x89HDF", b"CDF"))))
    raise AssertionError(kind)


KINDS = ["drop_var", "rename_dim", "shuffle_coord", "duplicate_coord", "nonfinite",
         "wrong_dtype", "drop_attr", "bad_json", "truncate", "not_netcdf"]


def _write(tmp_path, name: str, obj) -> str:
    path = tmp_path / name
    if isinstance(obj, bytes):
        path.write_bytes(obj)
    else:
        obj.to_netcdf(path, engine="netcdf4")
    return str(path)


def _assert_one_clear_error(argv, capsys, path) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (argv, captured.out[-500:])
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert path in lines[0] and "Traceback" not in captured.err


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

LANDSCAPE_COMMANDS = [
    lambda p, out: ["info", p],
    lambda p, out: ["plot", p, "-o", out + "/f.png"],
    lambda p, out: ["predict", p],
    lambda p, out: ["path", p, "--gamma", "0.01", "-o", out + "/p.png"],
    lambda p, out: ["gamma-plot", p, "-o", out + "/g.png"],
]


@pytest.mark.parametrize("command", range(len(LANDSCAPE_COMMANDS)))
@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_bad_landscape_file(command, kind, data, tmp_path, capsys):
    bad = _mutate(make_landscape(), kind, data)
    path = _write(tmp_path, "bad.nc", bad)
    _assert_one_clear_error(LANDSCAPE_COMMANDS[command](path, str(tmp_path)), capsys, path)


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_bad_trajectory_file(kind, data, tmp_path, capsys):
    good = _write(tmp_path, "good.nc", make_landscape())
    bad = _mutate(_trajectories(), kind, data)
    path = _write(tmp_path, "runs.nc", bad)
    _assert_one_clear_error(["validate", good, path, "-o", str(tmp_path / "r")], capsys, path)


def test_the_unmutated_files_are_accepted(tmp_path):
    from reduced_dynamics.io.landscape_file import check_landscape
    from reduced_dynamics.io.trajectory_file import check_trajectories

    check_landscape(make_landscape())
    check_trajectories(_trajectories())
    assert json.loads(make_landscape().attrs["config_json"])
