"""Teacher–student (SPEC §7): data, accuracy, batched = alone, 1-D probe, files, engine, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")

from reduced_dynamics.batching.mlp_bmm import reference_mlp  # noqa: E402
from reduced_dynamics.cli.main import main  # noqa: E402
from reduced_dynamics.config import (  # noqa: E402
    ProbeConfig,
    RunSet,
    TrainConfig,
)
from reduced_dynamics.engine.options import EventOptions  # noqa: E402
from reduced_dynamics.engine.predict import integrate  # noqa: E402
from reduced_dynamics.errors import InputError  # noqa: E402
from reduced_dynamics.io.landscape_file import landscape_dataset, open_landscape  # noqa: E402
from reduced_dynamics.io.trajectory_file import open_trajectories  # noqa: E402
from reduced_dynamics.landscape.probe import probe_batch  # noqa: E402
from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape  # noqa: E402
from reduced_dynamics.tasks import TASKS, get_task, task_of, torch_task  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.teacher_student import (  # noqa: E402
    TeacherStudentConfig,
    make_inputs,
    preset,
)
from reduced_dynamics.training.trainer import train_runs  # noqa: E402

TASK = preset("paper")


def _sequential(seed: int) -> torch.nn.Sequential:
    """The reference network: nn.Linear + Tanh at PyTorch's default init for ``seed``."""
    return reference_mlp(TASK.layer_sizes, seed, "tanh").double()


def test_task_is_registered_with_paper_settings():
    assert "teacher-student" in TASKS
    entry = get_task("teacher-student")
    assert task_of(TASK) is entry and not entry.has_m
    assert TASK.layer_sizes == (5, 100, 100, 5) and TASK.activation == "tanh"
    assert (TASK.n_train, TASK.n_test, TASK.threshold) == (100, 100, 0.01)
    probe = entry.probe_preset("paper")
    assert (probe.lr, probe.steps) == (3e-4, 10_000)
    assert (entry.train.eta_d, entry.train.steps) == (3e-4, 100_000)


def test_data_is_deterministic_and_labels_come_from_the_teacher():
    a_train, a_test = make_inputs(TASK)
    b_train, _ = make_inputs(TASK)
    np.testing.assert_array_equal(a_train, b_train)
    assert a_train.shape == (100, 5) and a_test.shape == (100, 5)
    assert not np.array_equal(a_train, make_inputs(preset(data_seed=1))[0])
    tt = torch_task(TASK, torch.float64)
    teacher = _sequential(0)  # the teacher is seed 0 at default init, alpha = 1
    with torch.no_grad():
        y = teacher(torch.as_tensor(a_test))
    np.testing.assert_allclose(tt.y["test"].numpy(), y.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(tt.x["test"].numpy(), a_test)


def test_thresholded_accuracy_on_a_hand_made_example():
    """Squared errors (mean over the 5 outputs) 0.005, 0.0099 are correct; 0.0101, 0.02 not."""
    cfg = TeacherStudentConfig(n_train=4, n_test=4)
    tt = torch_task(cfg, torch.float64)
    mse = torch.tensor([0.005, 0.0099, 0.0101, 0.02], dtype=torch.float64)
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    pred = (tt.y["train"] + mse.sqrt()[:, None] * sign)[None]  # every output off by sqrt(mse)
    assert float(tt.accuracy(pred, "train")[0]) == 0.5
    assert float(tt.loss(pred, "train")[0]) == pytest.approx(float(mse.mean()), rel=1e-12)
    perfect = tt.y["train"][None].expand(3, -1, -1)
    np.testing.assert_array_equal(tt.accuracy(perfect, "train").numpy(), [1.0, 1.0, 1.0])


def test_student_seed_may_not_be_the_teacher_seed():
    tt = torch_task(TASK, torch.float32)
    with pytest.raises(InputError, match="teacher's seed"):
        tt.init_params(0)
    assert w0_of(TASK, 1) == pytest.approx(float(torch.sqrt(sum(
        (p.detach() ** 2).sum() for p in _sequential(1).parameters()))), rel=1e-12)


def test_batched_student_equals_adamw_alone():
    """Each run, with its own gamma and alpha, follows torch.optim.AdamW(weight_decay=gamma)."""
    steps = 25
    cfg = TrainConfig(steps=steps, dtype="float64", eta_d=3e-3, eta_r=0.0, n_log=5)
    runs = RunSet(gamma=(0.0, 0.5, 5.0), seed=(1, 2, 1), alpha0=(2.0, 0.5, 3.0),
                  m0=(0.0,) * 3)
    logs = train_runs(TASK, cfg, runs)
    tt = torch_task(TASK, torch.float64)
    for b in range(3):
        model = _sequential(runs.seed[b])
        with torch.no_grad():
            norm = torch.sqrt(sum((p**2).sum() for p in model.parameters()))
            for p in model.parameters():
                p.mul_(runs.alpha0[b] * w0_of(TASK, runs.seed[b]) / norm)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.eta_d, weight_decay=runs.gamma[b])
        for _ in range(steps):
            opt.zero_grad()
            ((model(tt.x["train"]) - tt.y["train"]) ** 2).mean().backward()
            opt.step()
        with torch.no_grad():
            w = float(torch.sqrt(sum((p**2).sum() for p in model.parameters())))
            test_loss = float(((model(tt.x["test"]) - tt.y["test"]) ** 2).mean())
        assert logs["w"][b, -1] == pytest.approx(w, rel=1e-10)
        assert logs["test_loss"][b, -1] == pytest.approx(test_loss, rel=1e-9)
    # no representation: m and residual are logged as 0 (not applicable)
    np.testing.assert_array_equal(logs["m"], 0.0)
    np.testing.assert_array_equal(logs["residual"], 0.0)


def test_runs_refuse_a_messiness():
    runs = RunSet(gamma=(0.1,), seed=(1,), alpha0=(2.0,), m0=(0.3,))
    with pytest.raises(InputError, match="`m0` must be 0"):
        train_runs(TASK, TrainConfig(steps=2, n_log=2), runs)


def test_small_1d_probe_shows_the_L():
    """300 projected Adam steps: the training loss falls with alpha, on the sphere."""
    w0 = w0_of(TASK, 1)
    alpha = np.array([0.1, 0.3, 1.0])
    out = probe_batch(TASK, ProbeConfig(steps=300, lr=1e-3), alpha * w0, None,
                      np.ones(3, int))
    assert "dtrain_dm" not in out
    train = out["train_loss"]
    assert train[1] < 0.7 * train[0] and train[2] < 0.7 * train[1]
    assert np.all(out["dtrain_dw"] < 0)  # the L slopes down where it is not yet flat


def test_1d_landscape_file_round_trip(tmp_path):
    w0 = w0_of(TASK, 1)
    grid = ProbeGrid.no_m(w0 * np.array([0.3, 1.0, 3.0]), seeds=(1, 2))
    ds = probe_landscape(TASK, ProbeConfig(steps=20, chunk_size=4), grid, tmp_path / "l.nc",
                         progress=False)
    back = open_landscape(tmp_path / "l.nc")
    xr.testing.assert_identical(ds, back)
    assert dict(back.sizes) == {"w": 3, "seed": 2}
    assert "m" not in back.coords and "dtrain_dm" not in back.data_vars
    assert back.attrs["task"] == "teacher-student"
    assert float(back.attrs["w0"]) == pytest.approx(w0)
    np.testing.assert_allclose(back["alpha"].values, [0.3, 1.0, 3.0], rtol=1e-12)
    best = back["train_loss_by_seed"].min("seed")
    np.testing.assert_array_equal(back["train_loss"].values, best.values)
    with pytest.raises(InputError, match="no m coordinate"):
        probe_landscape(TASK, ProbeConfig(steps=20), ProbeGrid((1.0,), (0.0, 0.5), (1,)),
                        tmp_path / "x.nc", progress=False)


def _synthetic_1d(alpha_c_node: float = 1.5):
    """An L/U landscape in alpha: train loss flat (1e-6) above a steep wall at alpha = 0.3,
    test accuracy 1 up to ``alpha_c_node`` and 0 above it (log grid, 10 points a decade)."""
    w0 = 8.0
    alpha = np.round(np.logspace(-1, 1, 21), 6)
    train = 1e-6 + 20.0 / (1 + (alpha / 0.3) ** 8)  # a wall that weight decay cannot pass
    test = 1e-4 + 0.02 * np.log(alpha) ** 2
    variables = {
        "train_loss": train, "test_loss": test,
        "train_acc": np.where(alpha >= 0.3, 1.0, 0.5),
        "test_acc": np.where(alpha <= alpha_c_node, 1.0, 0.0),
        "dtrain_dw": np.gradient(train, alpha * w0),
        "tangent_grad_ratio": np.zeros(alpha.size), "converged": np.ones(alpha.size, bool),
    }
    return landscape_dataset(alpha * w0, None, variables, task="teacher-student",
                             preset="test", config={"note": "synthetic"}, w0=w0)


def test_1d_integrate_gives_the_closed_form_grokking_time():
    """From alpha = 2 in the flat region, t_grok = ln(2 / alpha_c) / (eta gamma)."""
    ds = _synthetic_1d()
    gamma = np.array([0.03, 0.1, 0.3, 1.0])
    eta = 3e-4
    out = integrate(ds, [(2.0, 0.0)], gamma=gamma, eta_d=eta, eta_r=0.0,
                    events=EventOptions(grok_on="acc")).isel(start=0, eta_d=0, eta_r=0)
    assert list(out["status"].values) == ["ok"] * 4
    # test_acc is interpolated linearly in ln w between the last 1 and the first 0 node
    alpha = ds["alpha"].values
    i = np.flatnonzero(alpha <= 1.5)[-1]
    u_c = np.log(alpha[i]) + 0.05 * (np.log(alpha[i + 1]) - np.log(alpha[i]))
    expected = (np.log(2.0) - u_c) / (eta * gamma)
    np.testing.assert_allclose(out["t_grok"].values, expected, rtol=1e-3)
    # the dummy m axis is internal: no m output at all for a 1-D landscape
    assert not {"m", "m_event", "start_m"} & set(out.variables)


def test_cli_probe_and_train_teacher_student(tmp_path, capsys):
    land = tmp_path / "ts.nc"
    assert main(["probe", "teacher-student", "--alpha", "0.5,2", "--seeds", "1,2",
                 "--steps", "20", "--threads", "1", "-q", "-o", str(land)]) == 0
    ds = open_landscape(land)
    assert dict(ds.sizes) == {"w": 2, "seed": 2}
    assert "probe teacher-student" in ds.attrs["history"]
    assert "2 w x 2 seed(s)" in capsys.readouterr().out
    runs = tmp_path / "runs.nc"
    assert main(["train", "teacher-student", "--gamma", "0,1", "--steps", "20", "--n-log",
                 "6", "--threads", "1", "-q", "-o", str(runs)]) == 0
    tr = open_trajectories(runs)
    assert tr.sizes["run"] == 2 and tr.attrs["task"] == "teacher-student"
    np.testing.assert_array_equal(tr["alpha0"].values, [2.0, 2.0])  # task defaults
    np.testing.assert_array_equal(tr["seed"].values, [1, 1])
    np.testing.assert_array_equal(tr["eta_d"].values, [3e-4, 3e-4])
    assert "not applicable" in tr["m"].attrs["long_name"]


@pytest.mark.parametrize("argv, message", [
    (["probe", "teacher-student", "--alpha", "1", "--m", "0,0.5", "-o", "x.nc"],
     "has no m coordinate"),
    (["probe", "teacher-student", "--alpha", "1", "--seeds", "0,1", "-o", "x.nc"],
     "teacher's seed"),
    (["probe", "teacher-student", "--preset", "notebook", "--alpha", "1", "-o", "x.nc"],
     "`preset` of task 'teacher-student' must be one of ['paper']"),
    (["train", "teacher-student", "--gamma", "1", "--m0", "0.2", "-o", "x.nc"],
     "has no m coordinate"),
])
def test_bad_teacher_student_cli_input(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_validation_report_of_1d_runs(tmp_path):
    """`validate` + `write_report` take a 1-D landscape and runs without m (m0 = 0)."""
    from reduced_dynamics.training.sweep import run_training
    from reduced_dynamics.validate import table, validate, write_report

    cfg = TrainConfig(steps=30, n_log=6, eta_d=3e-4, eta_r=0.0)
    runs = run_training(TASK, cfg, RunSet.sweep([0.1, 1.0], [1], [2.0], [0.0]),
                        tmp_path / "runs.nc", progress=False)
    ls = _synthetic_1d().assign_attrs(preset=runs.attrs["preset"])  # stands in for it
    report = validate(ls, runs)
    assert not {"m_predicted", "m_measured", "m0"} & set(report.variables)  # no fake m
    assert set(report["status_predicted"].values) <= {"ok", "left_domain"}
    # the predicted grokking times are the closed form of the flat region, ∝ 1/gamma
    t = report["t_grok_predicted"].values
    assert t[0] == pytest.approx(10 * t[1], rel=1e-3)
    assert "exponent of t_grok vs gamma" in table(report)
    paths = write_report(report, ls, tmp_path / "report")
    assert {p.name for p in paths} >= {"validation.csv", "t_grok_vs_gamma.png", "paths.png"}
    assert all(p.stat().st_size > 0 for p in paths)
