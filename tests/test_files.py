"""Landscape files: round trip, atomic writes, and one clear error per kind of bad file."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import xarray as xr
from conftest import make_landscape

from reduced_dynamics.errors import FileCheckError, WriteError
from reduced_dynamics.io.atomic import write_atomic
from reduced_dynamics.io.landscape_file import open_landscape, save_landscape


def test_round_trip_is_identical(tmp_path, landscape):
    path = save_landscape(landscape, tmp_path / "l.nc")
    back = open_landscape(path)
    xr.testing.assert_identical(landscape, back)
    assert back["converged"].dtype == bool


def test_round_trip_1d(tmp_path):
    ds = make_landscape(with_m=False)
    xr.testing.assert_identical(ds, open_landscape(save_landscape(ds, tmp_path / "l.nc")))


def _write_raw(ds, path):
    ds.to_netcdf(path)
    return path


def test_missing_variable(tmp_path, landscape):
    path = _write_raw(landscape.drop_vars("test_loss"), tmp_path / "bad.nc")
    with pytest.raises(FileCheckError) as err:
        open_landscape(path)
    msg = str(err.value)
    assert str(path) in msg and "`test_loss` is missing" in msg
    assert "train_loss" in msg  # lists what the file does contain


def test_decreasing_coordinate(tmp_path, landscape):
    path = _write_raw(landscape.isel(w=slice(None, None, -1)), tmp_path / "bad.nc")
    with pytest.raises(FileCheckError, match=r"coordinate `w` must be strictly increasing"):
        open_landscape(path)


def test_m_outside_unit_interval(tmp_path, landscape):
    bad = landscape.assign_coords(m=landscape["m"].values * 2)
    path = _write_raw(bad, tmp_path / "bad.nc")
    with pytest.raises(FileCheckError, match=r"`m` must lie in \[0, 1\], got range \[0, 2\]"):
        open_landscape(path)


def test_nan_at_converged_point(tmp_path, landscape):
    bad = landscape.copy(deep=True)
    bad["train_loss"][2, 3] = np.nan
    path = _write_raw(bad, tmp_path / "bad.nc")
    with pytest.raises(FileCheckError, match=r"`train_loss` is NaN or inf at converged point"):
        open_landscape(path)


def test_nan_at_unconverged_point_is_allowed(tmp_path, landscape):
    ok = landscape.copy(deep=True)
    ok["train_loss"][2, 3] = np.nan
    ok["converged"][2, 3] = False
    assert open_landscape(save_landscape(ok, tmp_path / "ok.nc"))["converged"].sum() == 29


def test_wrong_file_type_not_netcdf(tmp_path):
    path = tmp_path / "notes.nc"
    path.write_text("this is not netCDF\n")
    with pytest.raises(FileCheckError, match=r"could not be read as netCDF"):
        open_landscape(path)


def test_wrong_file_type_other_kind(tmp_path, landscape):
    other = landscape.copy()
    other.attrs["reduced_dynamics_file"] = "trajectory"
    path = _write_raw(other, tmp_path / "runs.nc")
    with pytest.raises(FileCheckError, match=r"this is a trajectory file, not a landscape file"):
        open_landscape(path)


def test_missing_attribute_and_bad_json(tmp_path, landscape):
    no_attr = landscape.copy()
    del no_attr.attrs["w0"]
    with pytest.raises(FileCheckError, match=r"global attribute `w0` is missing"):
        open_landscape(_write_raw(no_attr, tmp_path / "a.nc"))
    bad_json = landscape.copy()
    bad_json.attrs["config_json"] = "{not json"
    with pytest.raises(FileCheckError, match=r"`config_json` is not valid JSON"):
        open_landscape(_write_raw(bad_json, tmp_path / "b.nc"))


def test_missing_file(tmp_path):
    with pytest.raises(FileCheckError, match="does not exist"):
        open_landscape(tmp_path / "nope.nc")


def test_failed_write_keeps_previous_file(tmp_path, landscape, monkeypatch):
    """A disk-full error halfway through a write leaves the old file and no temporary."""
    path = save_landscape(landscape, tmp_path / "l.nc")
    before = path.read_bytes()

    def disk_full(self, target, *args, **kwargs):
        with open(target, "wb") as fh:
            fh.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(xr.Dataset, "to_netcdf", disk_full)
    with pytest.raises(WriteError, match=r"No space left on device; the previous file is intact"):
        write_atomic(landscape, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.nc"]
