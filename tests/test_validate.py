"""Validation of predictions against runs, on synthetic data with known answers (no torch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from reduced_dynamics.cli.main import main
from reduced_dynamics.engine.options import SolverOptions
from reduced_dynamics.engine.predict import integrate
from reduced_dynamics.errors import InputError
from reduced_dynamics.io.landscape_file import save_landscape
from reduced_dynamics.io.schema import FILE_KIND_ATTR, REQUIRED_ATTRS
from reduced_dynamics.names import ACC_THRESHOLD
from reduced_dynamics.testing.synthetic import synthetic_landscape
from reduced_dynamics.validate import events_for, path_distance, plateau_rate, validate

EVENTS = events_for(ACC_THRESHOLD, "acc")


def test_plateau_rate_recovers_an_exponential_decay():
    step = np.unique(np.round(np.geomspace(1, 30000, 200)))
    w = 140.0 * np.exp(-3e-4 * step)
    assert plateau_rate(step, w, 1000, 20000) == pytest.approx(3e-4, rel=1e-9)
    assert np.isnan(plateau_rate(step, w, np.nan, 20000))


def test_path_distance_is_zero_on_the_same_path_and_grows_with_offset():
    t = np.concatenate([[0.0], np.geomspace(1, 1e4, 50)])
    lnw, m = 5 - 1e-4 * t, 0.1 * np.exp(-t / 1e3)
    assert path_distance(t, lnw, m, t, lnw, m) == pytest.approx(0.0, abs=1e-12)
    assert path_distance(t, lnw + 0.3, m, t, lnw, m) == pytest.approx(0.3, rel=1e-9)


def _runs_following_the_prediction(landscape, gammas, alpha0, m0):
    """A trajectory Dataset whose runs move exactly as the reduced dynamics predicts."""
    pred = integrate(landscape, [(alpha0, m0)], gamma=gammas, events=EVENTS,
                     solver=SolverOptions(stop_at_grok=False),  # runs go on after t_grok
                     ).isel(start=0, eta_d=0, eta_r=0)
    steps = 2 * float(np.nanmax(pred["t_grok"].values))
    step = np.concatenate([[0], np.unique(np.round(np.geomspace(1, steps, 300)).astype(int))])
    t = pred["time"].values
    n = len(gammas)
    logs = {}
    for name in ("w", "m", "train_acc", "test_acc", "train_loss", "test_loss"):
        values = pred[name].values
        src = np.log(values) if name == "w" else values
        out = np.array([np.interp(step, t, src[g]) for g in range(n)])
        logs[name] = np.exp(out) if name == "w" else out
    logs["residual"] = np.zeros_like(logs["w"])

    def first(values):
        hit = values >= 0.95
        return np.where(hit.any(1), step[np.argmax(hit, 1)], np.nan).astype(float)

    ds = xr.Dataset(
        {k: (("run", "step"), v) for k, v in logs.items()}
        | {"t_overfit": ("run", first(logs["train_acc"])),
           "t_grok": ("run", first(logs["test_acc"]))},
        coords={"run": np.arange(n), "step": step, "gamma": ("run", np.asarray(gammas)),
                "eta_d": ("run", np.full(n, 1e-3)), "eta_r": ("run", np.full(n, 1e-3)),
                "seed": ("run", np.zeros(n, int)), "alpha0": ("run", np.full(n, alpha0)),
                "m0": ("run", np.full(n, m0))},
        attrs={k: "x" for k in REQUIRED_ATTRS} | {"config_json": json.dumps({}), "w0": 1.0,
                                                  FILE_KIND_ATTR: "trajectory"}
        | {k: landscape.attrs[k] for k in ("task", "preset")})  # runs of the same task
    return ds, pred


def test_validation_of_runs_that_follow_the_prediction():
    landscape = synthetic_landscape()
    gammas = [3e-3, 1e-2, 3e-2]
    runs, pred = _runs_following_the_prediction(landscape, gammas, 30.0, 0.05)
    assert np.all(np.isfinite(pred["t_grok"].values))
    report = validate(landscape, runs)
    ratio = report["t_grok_ratio"].values
    # measured = first logged step at or after the event: at most one log step late
    assert np.all(ratio <= 1.0 + 1e-9) and np.all(ratio > 0.95)
    assert np.all(report["path_distance"].values < 0.05)
    assert report.attrs["exponent_predicted"] == pytest.approx(
        report.attrs["exponent_measured"], abs=0.05)


def test_cli_validate_writes_table_csv_netcdf_and_figures(tmp_path, capsys):
    landscape = synthetic_landscape()
    runs, _ = _runs_following_the_prediction(landscape, [1e-2, 3e-2], 30.0, 0.05)
    save_landscape(landscape, tmp_path / "l.nc")
    runs.to_netcdf(tmp_path / "runs.nc")
    assert main(["validate", str(tmp_path / "l.nc"), str(tmp_path / "runs.nc"),
                 "-o", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "exponent of t_grok vs gamma: measured" in out
    names = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert names == ["paths.png", "t_grok_vs_gamma.png", "validation.csv", "validation.nc"]


def test_cli_validate_rejects_a_landscape_given_as_runs(tmp_path, capsys):
    landscape = synthetic_landscape()
    save_landscape(landscape, tmp_path / "l.nc")
    assert main(["validate", str(tmp_path / "l.nc"), str(tmp_path / "l.nc"),
                 "-o", str(tmp_path / "r")]) == 2
    assert "this is a landscape file, not a trajectory file" in capsys.readouterr().err


def _with_memorisation_phase(runs: xr.Dataset, alpha_first: float, t_peak: int) -> xr.Dataset:
    """The runs delayed by ``t_peak`` steps, during which w rises from ``alpha_first`` w0 to
    the runs' start (a memorisation phase the reduced dynamics does not describe)."""
    step = runs["step"].values
    new_step = np.concatenate([np.linspace(0, t_peak, 20, endpoint=False).astype(int),
                               step + t_peak])
    out = {}
    for name in ("w", "m", "train_acc", "test_acc", "train_loss", "test_loss", "residual"):
        v = runs[name].values
        head = np.repeat(v[:, :1], 20, axis=1)
        if name == "w":
            head = head * np.linspace(alpha_first / float(runs["alpha0"][0]), 1, 20,
                                      endpoint=False)
        if name in ("train_acc", "test_acc"):
            head = np.zeros_like(head)
        out[name] = (("run", "step"), np.concatenate([head, v], axis=1))
    shifted = runs.drop_dims("step").assign(out).assign_coords(step=new_step)
    shifted["t_overfit"] = runs["t_overfit"] + t_peak
    shifted["t_grok"] = runs["t_grok"] + t_peak
    return shifted.assign_coords(alpha0=("run", np.full(runs.sizes["run"], alpha_first)))


def test_validate_from_the_peak_skips_the_memorisation_phase():
    landscape = synthetic_landscape()
    runs, _ = _runs_following_the_prediction(landscape, [1e-2, 3e-2], 30.0, 0.05)
    late = _with_memorisation_phase(runs, 3.0, 5000)
    peak = validate(landscape, late, start="peak")
    np.testing.assert_array_equal(peak["t_start"].values, [5000, 5000])
    np.testing.assert_allclose(peak["alpha_start"].values, 30.0, rtol=1e-9)
    ratio = peak["t_grok_ratio"].values
    assert np.all(ratio <= 1.0 + 1e-9) and np.all(ratio > 0.95)
    # from alpha0 = 3 the reduced dynamics describes another run
    init = validate(landscape, late)
    r = init["t_grok_ratio"].values
    assert not np.any((r > 0.9) & (r < 1.1))
    assert peak.attrs["start"] == "peak" and init.attrs["start"] == "init"
    with pytest.raises(InputError, match=r"`start`.*'init' or 'peak'"):
        validate(landscape, late, start="top")


def test_validate_uses_the_landscape_tasks_grok_threshold():
    landscape = synthetic_landscape()
    runs, _ = _runs_following_the_prediction(landscape, [1e-2, 3e-2], 30.0, 0.05)
    landscape.attrs["config_json"] = json.dumps({"task": {"grok_threshold": 0.8}})
    report = validate(landscape, runs)
    assert report.attrs["grok_threshold"] == 0.8 and "test_acc >= 0.8" in report.attrs["events"]
    step, acc = runs["step"].values, runs["test_acc"].values
    expected = [step[np.argmax(a >= 0.8)] for a in acc]
    np.testing.assert_array_equal(report["t_grok_measured"].values, expected)
    assert np.all(report["t_grok_measured"].values < runs["t_grok"].values)
    ratio = report["t_grok_ratio"].values  # the prediction uses the same threshold
    assert np.all(ratio <= 1.0 + 1e-9) and np.all(ratio > 0.9)


def test_exponent_fit_needs_two_distinct_gammas():
    """A sweep over N at one γ has no exponent (it used to give 0.33 ± 2e15 from rounding)."""
    from reduced_dynamics.engine.fits import fit_exponent

    one = fit_exponent(np.full(6, 0.1), np.array([2e4, 1.5e4, 1.3e4, 1.2e4, 9e3, 8e3]))
    assert np.isnan(one["exponent"]) and np.isnan(one["exponent_stderr"])
    two = fit_exponent(np.array([0.1, 0.1, 0.2, 0.2]), np.array([1e4, 1.1e4, 5e3, 5.5e3]))
    assert two["exponent"] == pytest.approx(-1.0)


def test_a_config_field_added_later_compares_as_its_default():
    """The shipped landscape predates toy addition's `test_set`: it matches runs made with
    the default ("held_out") and not runs on the whole table ("all")."""
    from reduced_dynamics import default_landscape, open_landscape
    from reduced_dynamics.validate import config_differences

    landscape = open_landscape(default_landscape())
    assert "test_set" not in json.loads(landscape.attrs["config_json"])["task"]
    runs = xr.Dataset(attrs=dict(landscape.attrs))
    for value, expected in (("held_out", []), ("all", ["task config `test_set`"])):
        config = json.loads(landscape.attrs["config_json"])
        config["task"]["test_set"] = value
        runs.attrs["config_json"] = json.dumps(config)
        diffs = config_differences(landscape, runs)
        assert [d.split(":")[0] for d in diffs] == expected
