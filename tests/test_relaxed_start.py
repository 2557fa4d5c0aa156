"""The relaxed start of a training run (SPEC §13): theta minimised at fixed norm alpha0 w0
by the probe's own optimiser and settings before step 0, the representation at R(m0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reduced_dynamics.config import RunSet, TrainConfig  # noqa: E402
from reduced_dynamics.errors import InputError  # noqa: E402
from reduced_dynamics.io.trajectory_file import open_trajectories  # noqa: E402
from reduced_dynamics.landscape.probe import probe_batch  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.toy_addition import preset  # noqa: E402
from reduced_dynamics.training.fingerprint import train_fingerprint  # noqa: E402
from reduced_dynamics.training.start import relax_probe  # noqa: E402
from reduced_dynamics.training.sweep import run_training  # noqa: E402
from reduced_dynamics.training.trainer import train_runs  # noqa: E402

TASK = preset("paper")
RUNS = RunSet.sweep([0.1, 1.0], [0, 1], [5.0], [0.12])
RELAXED = TrainConfig(steps=20, n_log=5, dtype="float64", start="relaxed", relax_steps=300)


def test_relaxed_start_is_the_probe_minimum_at_alpha0_m0():
    relaxed = train_runs(TASK, RELAXED, RUNS)
    plain = train_runs(TASK, TrainConfig(steps=20, n_log=5, dtype="float64"), RUNS)
    seeds = np.asarray(RUNS.seed)
    w = np.array([5.0 * w0_of(TASK, s) for s in seeds])
    np.testing.assert_allclose(relaxed["w"][:, 0], w, rtol=1e-12)  # on the sphere
    np.testing.assert_allclose(relaxed["m"][:, 0], 0.12, rtol=1e-12)  # R frozen at R(m0)
    assert (relaxed["train_loss"][:, 0] <= plain["train_loss"][:, 0]).all()
    probe = probe_batch(TASK, relax_probe(TASK, RELAXED), w, np.full(len(RUNS), 0.12), seeds)
    # the same minimisation from the same init: equal up to the rounding of the batching
    np.testing.assert_allclose(relaxed["train_loss"][:, 0], probe["train_loss"], rtol=1e-9)
    np.testing.assert_allclose(relaxed["test_loss"][:, 0], probe["test_loss"], rtol=1e-9)
    assert relaxed["train_loss"][0, 0] < 0.1 * plain["train_loss"][0, 0]


def test_relaxed_resume_and_fingerprint(tmp_path):
    clean = train_runs(TASK, RELAXED, RUNS)
    ckpt = tmp_path / "r.ckpt"
    train_runs(TASK, RELAXED, RUNS, checkpoint=ckpt, stop_after=7)
    resumed = train_runs(TASK, RELAXED, RUNS, checkpoint=ckpt, resume=True)
    for k in clean:
        np.testing.assert_array_equal(clean[k], resumed[k], err_msg=k)
    fp = {c.relax_steps: train_fingerprint(TASK, c, RUNS, torch_threads=1)
          for c in (RELAXED, TrainConfig(steps=20, n_log=5, dtype="float64", start="relaxed",
                                         relax_steps=200))}
    assert fp[300] != fp[200]
    init = TrainConfig(steps=20, n_log=5, dtype="float64")
    assert "start" not in init.to_dict()  # the default keeps its old fingerprint
    assert train_fingerprint(TASK, init, RUNS, torch_threads=1) != fp[300]


def test_relaxed_start_recorded_in_the_file(tmp_path):
    cfg = TrainConfig(steps=10, n_log=4, start="relaxed", relax_steps=50)
    ds = run_training(TASK, cfg, RunSet.sweep([0.5], [0], [5.0], [0.12]), tmp_path / "r.nc",
                      progress=False)
    back = open_trajectories(tmp_path / "r.nc")
    for d in (ds, back):
        assert d.attrs["start"] == "relaxed" and int(d.attrs["relax_steps"]) == 50
    assert int(back["step"][0]) == 0 and int(back["step"][-1]) == 10
    assert relax_probe(TASK, TrainConfig(start="relaxed")).steps == 10_000  # the preset's


def test_relax_steps_without_relaxed_start_refused():
    with pytest.raises(InputError, match="relax_steps"):
        TrainConfig(relax_steps=100)
    with pytest.raises(InputError, match="start"):
        TrainConfig(start="warm")


LANDSCAPE = Path(__file__).parents[1] / "landscapes" / "toy_addition_paper.nc"


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_validate_uses_the_runs_own_eta_r_conversion(tmp_path, optimizer):
    from reduced_dynamics.validate import validate

    cfg = TrainConfig(steps=30, n_log=6, optimizer=optimizer, eta_d=1e-3, eta_r=1e-3,
                      start="relaxed", relax_steps=50)
    run_training(TASK, cfg, RunSet.sweep([0.5, 1.0], [0], [5.0], [0.12]), tmp_path / "r.nc",
                 progress=False)
    ds = open_trajectories(tmp_path / "r.nc")
    report = validate(LANDSCAPE, ds)
    divisor = 4.1713730 if optimizer == "sgd" else 1.0  # |R_rand - R_lin|^2 of the task
    assert float(ds.attrs["eta_r_ode_divisor"]) == pytest.approx(divisor, rel=1e-6)
    np.testing.assert_allclose(report["eta_r_ode"].values, 1e-3 / divisor, rtol=1e-6)
    assert report.attrs["run_start"] == "relaxed"
    assert optimizer in report.attrs["eta_r_conversion"]
    # the prediction is the ODE at eta_R = eta_r / divisor
    from reduced_dynamics.engine.predict import integrate
    from reduced_dynamics.validate import events_for

    events = events_for(*grok_of(LANDSCAPE))

    def predicted(eta_r):
        return float(integrate(str(LANDSCAPE), [(5.0, 0.12)], gamma=0.5, eta_d=1e-3,
                               eta_r=eta_r, events=events)["t_grok"].values.ravel()[0])

    got = float(report["t_grok_predicted"].values[0])
    assert np.isfinite(got)
    # the file's own divisor (`divisor` above is it rounded to 8 digits)
    exact = float(ds.attrs["eta_r_ode_divisor"])
    assert got == pytest.approx(predicted(1e-3 / exact), rel=1e-9)
    if optimizer == "sgd":  # the conversion changes the prediction
        assert got != pytest.approx(predicted(1e-3), rel=1e-3)

def grok_of(path):
    from reduced_dynamics.engine.thresholds import grok_threshold_of
    from reduced_dynamics.io.landscape_file import open_landscape

    value, on, _ = grok_threshold_of(open_landscape(path))
    return value, on


def test_validate_refuses_an_sgd_file_without_the_conversion(tmp_path):
    from reduced_dynamics.validate import validate

    cfg = TrainConfig(steps=10, n_log=4, optimizer="sgd", eta_d=1e-3, eta_r=1e-3)
    ds = run_training(TASK, cfg, RunSet.sweep([0.5], [0], [5.0], [0.12]), tmp_path / "r.nc",
                      progress=False)
    old = ds.copy()
    del old.attrs["eta_r_ode_divisor"], old.attrs["eta_r_conversion"]
    with pytest.raises(InputError, match="eta_r_ode_divisor"):
        validate(LANDSCAPE, old)
