"""Files say what they hold (loss and θ in the long names, units everywhere, their kind) and
`reduced-dynamics info` shows it: every kind of file, history, the coordinates that differ
between runs, ``--json``; ``validate --json``."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_validate import _runs_following_the_prediction

from reduced_dynamics.cli.main import main
from reduced_dynamics.errors import FileCheckError
from reduced_dynamics.io.landscape_file import landscape_dataset, open_landscape, save_landscape
from reduced_dynamics.io.schema import FILE_KIND_ATTR, file_kind_of
from reduced_dynamics.names import LOSS_CROSS_ENTROPY, LOSS_MSE, TRAJECTORY_COORD_META
from reduced_dynamics.tasks import REGISTRY
from reduced_dynamics.testing.synthetic import synthetic_landscape

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "data"


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ what configs name
def test_every_task_config_names_its_loss_and_theta():
    names = {}
    for entry in REGISTRY.values():
        for preset, config in entry.presets.items():
            names[entry.name, preset] = entry.loss_name_for(config)
            assert entry.loss_name_for(config) in (LOSS_MSE, LOSS_CROSS_ENTROPY)
            assert entry.theta_for(config)
    assert names["images", "digits-ce"] == names["images", "fashion-ce"] == LOSS_CROSS_ENTROPY
    assert names["images", "digits-mse"] == names["toy-addition", "paper"] == LOSS_MSE
    assert names["teacher-student", "paper"] == LOSS_MSE
    assert names["modular-addition", "nanda"] == LOSS_CROSS_ENTROPY
    toy = REGISTRY["toy-addition"]
    assert "decoder" in toy.theta_for(toy.preset()) and "outside theta" in toy.theta_for(
        toy.preset())
    ma = REGISTRY["modular-addition"]
    assert "every parameter" in ma.theta_for(ma.preset())


def test_theta_descriptions_agree_with_the_adapters_theta_names():
    """A built-in adapter whose θ is all of its module (theta_names None) says "every"."""
    for entry in REGISTRY.values():
        module, cls = entry.adapter.split(":")
        adapter = getattr(importlib.import_module(f"reduced_dynamics.tasks.{module}"), cls)
        text = entry.theta_for(entry.preset())
        assert (adapter.theta_names is None) == text.startswith("every"), (entry.name, text)


def test_landscape_dataset_fills_loss_and_theta_into_the_long_names():
    w = np.array([1.0, 2.0])
    variables = {"train_loss": np.ones((1, 2)), "test_loss": np.ones(2)}
    ds = landscape_dataset(w, None, variables, task="t", preset="p", config={}, w0=1.0,
                           extra_dims={"seed": np.array([0])}, loss_name=LOSS_CROSS_ENTROPY,
                           theta="every parameter of it")
    assert ds["test_loss"].attrs["long_name"] == "reduced test loss l~_test (cross-entropy)"
    assert "cross-entropy" in ds["train_loss"].attrs["long_name"]
    assert ds["w"].attrs["long_name"].endswith("theta: every parameter of it")
    unnamed = landscape_dataset(w, None, {"train_loss": np.ones(2)}, task="t", preset="p",
                                config={}, w0=1.0)
    assert "MSE" not in unnamed["train_loss"].attrs["long_name"]
    for name in ("w", "alpha", "seed"):
        assert {"long_name", "units"} <= set(ds[name].attrs), name


# ------------------------------------------------------------------------ the writers
def _fake_logs(n_runs: int, n_steps: int) -> dict[str, np.ndarray]:
    logs = {v: np.full((n_runs, n_steps), 0.5) for v in (
        "w", "m", "residual", "train_loss", "test_loss", "train_acc", "test_acc")}
    logs.update(t_overfit=np.full(n_runs, 1.0), t_grok=np.full(n_runs, np.nan))
    return logs


@pytest.mark.parametrize("task_name, preset, loss", [
    ("toy-addition", "paper", "MSE"), ("images", "digits-ce", "cross-entropy"),
    ("images", "digits-mse", "MSE")])
def test_trajectory_files_name_the_loss_theta_and_every_coordinate(task_name, preset, loss):
    pytest.importorskip("torch")
    from reduced_dynamics.config import RunSet, TrainConfig
    from reduced_dynamics.training.sweep import trajectory_dataset

    entry = REGISTRY[task_name]
    task = entry.preset(preset)
    cfg = TrainConfig(steps=10, n_log=3)
    runs = RunSet.sweep([0.1, 0.3], [0], [1.0], [0.0],
                        n_trains=[50] if task_name == "images" else None)
    ds = trajectory_dataset(task, cfg, runs, _fake_logs(len(runs), cfg.log_steps().size))
    assert ds["train_loss"].attrs["long_name"] == f"training loss ({loss}, without weight decay)"
    assert ds["test_loss"].attrs["long_name"] == f"test loss ({loss})"
    assert ds["w"].attrs["long_name"].endswith(entry.theta_for(task))
    coords = set(map(str, ds.coords))
    assert {"run", "step", "gamma", "eta_d", "eta_r", "seed", "alpha0", "m0"} <= coords
    assert coords <= set(TRAJECTORY_COORD_META)
    for name in ds.variables:
        assert ds[name].attrs.get("long_name") and ds[name].attrs.get("units"), name


@pytest.mark.parametrize("task_name", ["toy-addition", "modular-addition"])
def test_probed_landscapes_name_the_loss_and_theta(task_name, tmp_path):
    pytest.importorskip("torch")
    from reduced_dynamics.config import ProbeConfig
    from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape
    from reduced_dynamics.tasks.base import w0_of

    entry = REGISTRY[task_name]
    task = (entry.preset("paper") if task_name == "toy-addition" else
            entry.preset("cpu", p=7, d_model=16, n_heads=2, d_head=8, d_mlp=32))
    w0 = w0_of(task, 0)
    grid = (ProbeGrid((w0,), (0.0,), (0,)) if entry.has_m_for(task)
            else ProbeGrid.no_m((w0,), (0,)))
    ds = probe_landscape(task, ProbeConfig(steps=10), grid, tmp_path / "l.nc", progress=False)
    loss = entry.loss_name_for(task)
    assert loss == ("MSE" if task_name == "toy-addition" else "cross-entropy")
    for name in ("train_loss", "test_loss", "train_loss_by_seed"):
        assert f"({loss})" in ds[name].attrs["long_name"]
    assert open_landscape(tmp_path / "l.nc")["w"].attrs["long_name"].endswith(
        entry.theta_for(task))


# -------------------------------------------------------------------- committed files
COMMITTED = sorted([*(ROOT / "landscapes").glob("*.nc"), *DATA.glob("*.nc")])


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_files_label_every_variable_with_their_tasks_loss(path):
    with xr.open_dataset(path) as ds:
        for name in ds.variables:
            attrs = ds[name].attrs
            assert attrs.get("long_name") and attrs.get("units"), (path.name, name)
        task = json.loads(ds.attrs["config_json"])["task"]
        entry = REGISTRY[ds.attrs["task"]]
        config = entry.config_type(**{k: tuple(v) if isinstance(v, list) else v
                                      for k, v in task.items()})
        loss = entry.loss_name_for(config)
        cross_entropy = (ds.attrs["task"] in ("modular-addition", "text")  # text: binary CE
                         or task.get("loss") == "ce")
        assert loss == (LOSS_CROSS_ENTROPY if cross_entropy else LOSS_MSE)
        for name in ("train_loss", "test_loss"):
            assert f"({loss}" in ds[name].attrs["long_name"], (path.name, name)
        if cross_entropy:
            assert not [n for n in ds.variables if "MSE" in ds[n].attrs["long_name"]]
        assert ds["w"].attrs["long_name"].endswith(entry.theta_for(config))


def test_the_images_ce_runs_say_cross_entropy_and_the_mse_runs_mse():
    with xr.open_dataset(DATA / "digits_ce.nc") as ce, \
            xr.open_dataset(DATA / "digits_gamma.nc") as mse:
        assert ce["train_loss"].attrs["long_name"] == (
            "training loss (cross-entropy, without weight decay)")
        assert mse["train_loss"].attrs["long_name"] == "training loss (MSE, without weight decay)"


# ------------------------------------------------------------------------------- info
def test_info_shows_the_training_set_size_of_each_run():
    rc, out, err = run_cli(["info", str(DATA / "digits_sizes.nc")])
    assert rc == 0, err
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["run"])
    assert lines[head].split()[:3] == ["run", "N", "alpha0"]  # only what differs
    rows = [line.split() for line in lines[head + 1: head + 15]]
    assert [int(r[0]) for r in rows] == list(range(14))
    assert [int(r[1]) for r in rows] == [n for n in (100, 150, 200, 300, 500, 1000, 1500)
                                         for _ in range(2)]
    assert [float(r[2]) for r in rows] == [1.0, 8.0] * 7
    assert "  same for every run: gamma 0.1, seed 0, eta_d 0.001, eta_r 0" in lines


def test_info_shows_the_history_of_every_kind(tmp_path):
    report = _report(tmp_path)
    for path in (ROOT / "landscapes" / "toy_addition_paper.nc", DATA / "digits_ce.nc", report):
        with xr.open_dataset(path) as ds:
            history = ds.attrs["history"]
        rc, out, err = run_cli(["info", str(path)])
        assert rc == 0, err
        assert f"  history: {history}" in out.splitlines()
    assert "reduced-dynamics validate" in history


def _report(tmp_path) -> Path:
    """validation.nc of `reduced-dynamics validate` on synthetic runs."""
    landscape = synthetic_landscape()
    runs, _ = _runs_following_the_prediction(landscape, [1e-2, 3e-2], 30.0, 0.05)
    save_landscape(landscape, tmp_path / "l.nc")
    runs.to_netcdf(tmp_path / "runs.nc")
    rc, _, err = run_cli(["validate", str(tmp_path / "l.nc"), str(tmp_path / "runs.nc"),
                          "-o", str(tmp_path / "report")])
    assert rc == 0, err
    return tmp_path / "report" / "validation.nc"


def test_info_names_a_validation_report_and_old_or_unknown_files(tmp_path):
    path = _report(tmp_path)
    with xr.open_dataset(path) as ds:
        report = ds.load()
    assert report.attrs[FILE_KIND_ATTR] == "validation"
    for name in report.variables:
        assert report[name].attrs.get("long_name") and report[name].attrs.get("units"), name
    rc, out, err = run_cli(["info", str(path)])
    assert rc == 0, err
    assert out.startswith(f"validation report {path}")
    assert "t_grok meas" in out and "exponent of t_grok vs gamma" in out
    assert "missing" not in out + err
    old = report.copy()  # a report written before it carried its kind
    del old.attrs[FILE_KIND_ATTR]
    old.to_netcdf(tmp_path / "old.nc")
    rc, out, err = run_cli(["info", str(tmp_path / "old.nc")])
    assert rc == 0 and out.startswith("validation report"), err
    rc, _, err = run_cli(["predict", str(path)])  # not a landscape, and it says so
    assert rc == 2 and "this is a validation file, not a landscape file" in err
    xr.Dataset({"x": ("i", [1.0, 2.0])}).to_netcdf(tmp_path / "other.nc")
    rc, _, err = run_cli(["info", str(tmp_path / "other.nc")])
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "is not a landscape (no dim `w`), a trajectory file" in err and "missing" not in err
    with pytest.raises(FileCheckError, match=r"part file \(chunk 3\) of an unfinished"):
        file_kind_of(xr.Dataset({"x": ("member", [1.0])}, attrs={"chunk": 3}), "p.nc")


def test_info_json_of_every_kind(tmp_path):
    rc, out, err = run_cli(["info", "--json", str(ROOT / "landscapes" / "digits_mse.nc")])
    assert rc == 0, err
    land = json.loads(out)
    assert land["kind"] == "landscape" and land["task"] == "images"
    assert land["preset"] == "digits-mse" and land["history"].startswith("20")
    assert land["grid"]["w"]["size"] == 11 and len(land["grid"]["n_train"]) == 9
    assert land["points"] == 99 and land["unconverged"] == len(land["unconverged_points"])
    assert land["critical_n_train"]["n_train"] == 150
    assert land["variables"]["train_loss"]["long_name"] == "reduced training loss l~_train (MSE)"

    rc, out, err = run_cli(["info", "--json", str(DATA / "digits_sizes.nc")])
    assert rc == 0, err
    runs = json.loads(out)
    assert runs["kind"] == "trajectory" and runs["runs"] == len(runs["rows"]) == 14
    assert runs["varying"] == ["n_train", "alpha0"] and runs["same_for_every_run"]["gamma"] == 0.1
    assert [r["n_train"] for r in runs["rows"]][:4] == [100, 100, 150, 150]
    assert runs["grok"]["threshold"] == 0.9 and runs["grokked"] == 12
    assert runs["rows"][0]["t_grok"] is None  # NaN (never grokked) is null

    rc, out, err = run_cli(["info", "--json", str(_report(tmp_path))])
    assert rc == 0, err
    report = json.loads(out)
    assert report["kind"] == "validation" and len(report["rows"]) == report["runs"] == 2
    assert {"exponent_measured", "worst_factor", "history"} <= set(report)
    assert {"gamma", "t_grok_measured", "t_grok_predicted", "status_predicted"} <= set(
        report["rows"][0])


def test_validate_json_prints_rows_and_still_writes_the_report(tmp_path):
    landscape = synthetic_landscape()
    runs, _ = _runs_following_the_prediction(landscape, [1e-2, 3e-2], 30.0, 0.05)
    runs["t_overfit"][0] = np.nan  # a run that never overfit: ratio NaN -> null
    save_landscape(landscape, tmp_path / "l.nc")
    runs.to_netcdf(tmp_path / "runs.nc")
    rc, out, err = run_cli(["validate", str(tmp_path / "l.nc"), str(tmp_path / "runs.nc"),
                            "-o", str(tmp_path / "report"), "--json"])
    assert rc == 0, err
    doc = json.loads(out)  # the whole output is one JSON document
    assert len(doc["rows"]) == doc["runs"] == 2
    assert doc["rows"][0]["t_overfit_measured"] is None
    assert doc["rows"][0]["t_overfit_ratio"] is None
    assert doc["rows"][1]["gamma"] == pytest.approx(3e-2)
    assert doc["comparable"] == 2 and isinstance(doc["exponent_measured"], float)
    assert sorted(Path(p).name for p in doc["wrote"]) == [
        "paths.png", "t_grok_vs_gamma.png", "validation.csv", "validation.nc"]
    assert (tmp_path / "report" / "validation.nc").exists()
