"""Files that can be trusted (issue 18 item 3): every variable we write carries HDF5's
Fletcher-32 checksum, so damaged data is refused when read (one ``error:`` line naming the
file), the shipped files included; readers refuse stored values they cannot use instead of
substituting a default: a ``config_json`` that is not a JSON object, a stored grokking
threshold that is not a usable number, a runs file with negative norms."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from conftest import assert_one_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reduced_dynamics.cli.main import main
from reduced_dynamics.engine.thresholds import grok_threshold_of
from reduced_dynamics.errors import FileCheckError
from reduced_dynamics.io.atomic import write_atomic
from reduced_dynamics.io.landscape_file import open_landscape, save_landscape
from reduced_dynamics.io.parts import PartStore
from reduced_dynamics.io.schema import read_dataset
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.testing.synthetic import synthetic_landscape

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted([*ROOT.glob("landscapes/*.nc"), *ROOT.glob("docs/data/*.nc")])
RUNS = ROOT / "docs" / "data" / "toy_study_runs.nc"


def run_cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, err.getvalue()




def unchecked_variables(path: Path) -> list[str]:
    with netCDF4.Dataset(path) as nc:
        return [name for name, var in nc.variables.items()
                if not (var.filters() or {}).get("fletcher32")]


# ------------------------------------------------------------------ checksums are written
def test_there_are_committed_files():
    assert len(COMMITTED) >= 15


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_every_committed_file_has_a_checksum_on_every_variable(path):
    assert unchecked_variables(path) == []


def test_every_file_we_write_has_a_checksum_on_every_variable(tmp_path):
    from reduced_dynamics.io.trajectory_file import save_trajectories

    with xr.open_dataset(RUNS) as ds:
        runs = ds.load()
    store = PartStore(tmp_path / "sweep.nc", {"kind": "test"})
    store.open(resume=False)
    store.write(0, np.arange(3), {"loss": np.ones((3, 4)), "status": np.zeros(3, np.int8)})
    paths = [save_landscape(synthetic_landscape(), tmp_path / "l.nc"),
             save_trajectories(runs, tmp_path / "r.nc"), store.part_path(0)]
    for path in paths:
        assert unchecked_variables(path) == [], path


# ------------------------------------------------------------------ damaged data is refused
@pytest.fixture(scope="module")
def landscape_bytes() -> tuple[bytes, int, int]:
    """A landscape file's bytes and where the data of its `train_loss` lie in them."""
    with tempfile.TemporaryDirectory() as folder:
        ds = synthetic_landscape()
        path = save_landscape(ds, Path(folder) / "l.nc")
        data = path.read_bytes()
    raw = np.ascontiguousarray(ds["train_loss"].values).tobytes()
    start = data.find(raw)
    assert start > 0 and data.find(raw, start + 1) == -1  # one chunk, found once
    return data, start, len(raw)


def _damaged(data: bytes, positions: list[int], mask: int) -> bytes:
    out = bytearray(data)
    for p in positions:
        out[p] ^= mask
    return bytes(out)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=0), mask=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_in_the_data_is_refused(landscape_bytes, offset, mask):
    data, start, size = landscape_bytes
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.nc"
        path.write_bytes(_damaged(data, [start + offset % size], mask))
        with pytest.raises(FileCheckError) as info:
            open_landscape(path)
    message = str(info.value)
    assert str(path) in message and "damaged" in message and "\n" not in message
    assert "Fletcher-32 checksum of variable `train_loss` fails" in message


def test_sixty_four_flipped_bytes_are_refused_on_the_command_line(landscape_bytes, tmp_path):
    """Without a checksum such a file was read, and its numbers used (a negative relative
    change of the training loss, say)."""
    data, start, size = landscape_bytes
    path = tmp_path / "damaged.nc"
    path.write_bytes(_damaged(data, list(range(start, start + min(64, size))), 0xFF))
    for argv in (["info", str(path)], ["predict", str(path), "--gamma", "0.1"]):
        rc, err = run_cli(argv)
        assert_one_error(rc, err, str(path), "damaged", "Fletcher-32")


def test_the_undamaged_file_reads(landscape_bytes, tmp_path):
    path = tmp_path / "l.nc"
    path.write_bytes(landscape_bytes[0])
    xr.testing.assert_identical(open_landscape(path).drop_attrs(),
                                read_dataset(path, "landscape").drop_attrs())


# ------------------------------------------------- stored values that cannot be used
def _landscape_with(tmp_path: Path, config_json: str) -> Path:
    ds = synthetic_landscape()
    ds.attrs["config_json"] = config_json
    return write_atomic(ds, tmp_path / "bad.nc")  # written unchecked, as another tool might


NOT_OBJECTS = ["[1, 2]", "\"task\"", "3", "null", "{\"task\": [0.9]}"]


@pytest.mark.parametrize("text", NOT_OBJECTS)
def test_config_json_that_is_not_a_json_object_is_refused(text, tmp_path):
    path = _landscape_with(tmp_path, text)
    with pytest.raises(FileCheckError, match="must be a JSON object") as info:
        open_landscape(path)
    assert str(path) in str(info.value)
    assert_one_error(*run_cli(["info", str(path)]), str(path), "JSON object")


BAD_THRESHOLDS = [math.nan, 0, 0.0, -0.5, 1.5, "0.9", True, [0.9], math.inf]


@pytest.mark.parametrize("value", BAD_THRESHOLDS, ids=repr)
def test_a_stored_grok_threshold_that_is_not_usable_is_refused(value, tmp_path):
    text = json.dumps({"task": {"name": "synthetic", "grok_threshold": value}})
    path = _landscape_with(tmp_path, text)
    with pytest.raises(FileCheckError, match=r"`task.grok_threshold` in attribute "
                       r"`config_json` must be a test accuracy in \(0, 1\]"):
        open_landscape(path)
    rc, err = run_cli(["predict", str(path), "--gamma", "0.1"])
    assert_one_error(rc, err, str(path), "grok_threshold")
    assert "0.95" not in err and "stores no" not in err
    ds = synthetic_landscape().assign_attrs(config_json=text)  # in memory: refused too
    with pytest.raises(FileCheckError, match="grok_threshold"):
        grok_threshold_of(ds)


def test_a_usable_stored_grok_threshold_is_used(tmp_path):
    text = json.dumps({"task": {"grok_threshold": 0.9}})
    ds = open_landscape(_landscape_with(tmp_path, text))
    assert grok_threshold_of(ds)[:2] == (0.9, "acc")
    loss = synthetic_landscape().assign_attrs(config_json=json.dumps(
        {"task": {"grok_threshold": 2.5, "grok_on": "loss"}}))  # a loss may exceed 1
    assert grok_threshold_of(loss)[:2] == (2.5, "loss")
    with pytest.raises(FileCheckError, match="grok_on"):
        grok_threshold_of(synthetic_landscape().assign_attrs(config_json=json.dumps(
            {"task": {"grok_threshold": 0.9, "grok_on": "accuracy"}})))


@pytest.mark.parametrize("change", ["w", "alpha0"])
def test_a_runs_file_with_negative_norms_is_refused(change, tmp_path):
    with xr.open_dataset(RUNS) as ds:
        runs = ds.load()
    if change == "w":
        runs["w"].values[0, 1] = -0.25
    else:
        runs["alpha0"].values[0] = -runs["alpha0"].values[0]
    path = write_atomic(runs, tmp_path / "negative.nc")
    with pytest.raises(FileCheckError, match=f"`{change}`.*must be >= 0") as info:
        open_trajectories(path)
    assert str(path) in str(info.value)
    assert_one_error(*run_cli(["info", str(path)]), str(path), ">= 0")
