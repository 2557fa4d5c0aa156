"""The images and modular-addition tasks through the shared probe and trainer (fast)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reduced_dynamics.config import (  # noqa: E402
    ProbeConfig,
    RunSet,
    TrainConfig,
)
from reduced_dynamics.errors import InputError  # noqa: E402
from reduced_dynamics.landscape.probe import probe_batch  # noqa: E402
from reduced_dynamics.tasks import get_task, torch_task  # noqa: E402
from reduced_dynamics.tasks.images import preset as images  # noqa: E402
from reduced_dynamics.tasks.modular_addition import preset as modular  # noqa: E402
from reduced_dynamics.tasks.modular_addition import split  # noqa: E402
from reduced_dynamics.training.trainer import BatchedRuns, train_runs  # noqa: E402

TINY_MA = modular("cpu", p=7, d_model=16, n_heads=2, d_head=8, d_mlp=32)


def test_images_task_losses_match_torch_and_w0_is_the_default_init():
    tt = torch_task(images("digits-mse"))
    module = tt.make_module(3)
    torch.manual_seed(3)
    ref = torch.nn.Sequential(torch.nn.Linear(64, 200), torch.nn.ReLU(),
                              torch.nn.Linear(200, 200), torch.nn.ReLU(),
                              torch.nn.Linear(200, 10))
    assert tt.w0(3) == pytest.approx(float(torch.sqrt(sum(
        (p.detach().double() ** 2).sum() for p in ref.parameters()))), rel=1e-12)
    x = tt.inputs(None, "train")
    pred = module(x)
    y = tt.labels["train"]
    mse = torch.nn.functional.mse_loss(pred, torch.nn.functional.one_hot(y, 10).float())
    torch.testing.assert_close(tt.loss(pred, "train"), mse)
    ce_task = torch_task(images("digits-ce"))
    torch.testing.assert_close(ce_task.loss(pred, "train"),
                               torch.nn.functional.cross_entropy(pred, y))
    assert float(tt.accuracy(pred, "train")) == pytest.approx(
        float((pred.argmax(1) == y).float().mean()))


def test_images_representation_preset_has_an_m_axis():
    entry = get_task("images")
    assert entry.has_m_for(images("digits-rep")) and not entry.has_m_for(images())
    tt = torch_task(images("digits-rep"))
    rep0 = tt.representation(torch.tensor(0.0))
    x0 = tt.inputs(rep0, "test", torch.tensor([0, 5]))
    labels = tt.labels["test"][[0, 5]]
    expected = torch.linspace(-0.5, 0.5, 10)[labels]
    torch.testing.assert_close(x0, expected[:, None].expand(2, 64))  # R(0) = R_linear
    x1 = tt.inputs(tt.representation(torch.tensor(1.0)), "train")
    torch.testing.assert_close(x1, torch_task(images()).inputs(None, "train"))  # R(1) = raw


def test_representation_probe_in_minibatches_measures_the_m_derivative():
    """Fig. 8's probe evaluates the full training set in chunks: every chunk's gradient
    goes back through the one R(m) (a second backward through it used to fail)."""
    out = probe_batch(images("digits-rep"), ProbeConfig(steps=10, batch_size=100),
                      np.array([5.0, 5.0]), np.array([0.2, 0.9]), np.array([0, 0]))
    assert np.all(np.isfinite(out["dtrain_dm"])) and np.all(out["dtrain_dm"] != 0)


def test_images_probe_and_runs_at_their_own_training_set_sizes():
    out = probe_batch(images(), ProbeConfig(steps=10, batch_size=50), np.array([5.0, 5.0]),
                      None, np.array([0, 0]), n_train=np.array([20, 1500]))
    assert np.all(np.isfinite(out["train_loss"]))
    assert out["train_loss"][0] != out["train_loss"][1]
    cfg = TrainConfig(steps=12, n_log=4, eta_r=0.0, batch_size=50)
    runs = RunSet.sweep([0.1], [0], [2.0], [0.0], n_trains=[20, 1500])
    assert runs.n_train == (20, 1500)
    logs = train_runs(images(), cfg, runs)
    alone = train_runs(images(), cfg, runs.subset([0]))
    np.testing.assert_allclose(logs["train_loss"][0], alone["train_loss"][0], rtol=1e-5)
    with pytest.raises(InputError, match="n_train"):
        RunSet.sweep([0.1], [0], [1.0], [0.0], n_trains=[0])


def test_runs_files_time_grokking_at_the_tasks_threshold():
    """SPEC §12: t_grok in a trajectory file is the task's grok_threshold, not 0.95."""
    from reduced_dynamics.training.sweep import trajectory_dataset

    cfg = TrainConfig(steps=60, n_log=7, eta_r=0.0, batch_size=50)
    runs = RunSet.sweep([0.1], [0], [1.0], [0.0], n_trains=[300])
    task = images(grok_threshold=0.3)
    ds = trajectory_dataset(task, cfg, runs, train_runs(task, cfg, runs))
    acc, step = ds["test_acc"].values[0], ds["step"].values
    assert acc.max() >= 0.3 and acc.min() < 0.3  # the threshold is crossed within 60 steps
    assert float(ds["t_grok"][0]) == step[np.argmax(acc >= 0.3)]
    assert "test_acc >= 0.3" in ds["t_grok"].attrs["long_name"]


def test_modular_addition_split_and_float64_cross_entropy():
    cfg = modular("nanda")
    tr, te = split(cfg)
    assert len(tr) == round(0.3 * 113**2) and len(tr) + len(te) == 113**2
    assert not set(tr) & set(te)
    tt = torch_task(TINY_MA)
    module = tt.make_module(0)
    pred = module(tt.inputs(None, "train"))
    ref = torch.nn.functional.cross_entropy(pred.double(), tt.labels["train"])
    assert float(tt.loss(pred, "train").detach()) == pytest.approx(float(ref.detach()), rel=1e-6)
    assert get_task("modular-addition").has_m_for(cfg) is False
    with pytest.raises(InputError, match="train_fraction"):
        modular("cpu", train_fraction=1.0)


def test_warm_up_scales_the_rates_and_the_decay_from_zero():
    cfg = TrainConfig(steps=30, n_log=5, eta_r=0.0, warmup_steps=10)
    assert [cfg.lr_factor(s) for s in (0, 5, 10, 20)] == [0.0, 0.5, 1.0, 1.0]
    state = BatchedRuns(TINY_MA, cfg, RunSet.sweep([1.0], [0], [1.0], [0.0]))
    before = [p.detach().clone() for p in state.params]
    state.advance()  # step 0: factor 0, nothing moves (Nanda's LambdaLR(min(t/10, 1)))
    for p, q in zip(state.params, before):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    state.advance()
    assert any(not torch.equal(p, q) for p, q in zip(state.params, before))
    with pytest.raises(InputError, match="warmup_steps"):
        TrainConfig(steps=5, n_log=5, warmup_steps=6)


def test_constrained_transformer_run_keeps_its_norm():
    cfg = TrainConfig(steps=15, n_log=5, eta_r=0.0, constrain_norm=True, warmup_steps=3)
    logs = train_runs(TINY_MA, cfg, RunSet.sweep([0.0], [0, 1], [0.8], [0.0]))
    tt = torch_task(TINY_MA)
    w0 = np.array([tt.w0(0), tt.w0(1)])
    np.testing.assert_allclose(logs["w"], 0.8 * w0[:, None] * np.ones_like(logs["w"]),
                               rtol=1e-5)



def test_a_config_carries_its_task():
    from reduced_dynamics.tasks import task_of
    from reduced_dynamics.testing.sequence_task import ENTRY, registered

    assert task_of(images()) is get_task("images")
    assert task_of(modular("cpu")) is get_task("modular-addition")
    config = ENTRY.preset("test")
    with registered():
        assert task_of(config) is ENTRY
    with pytest.raises(InputError, match="no registered task"):
        task_of(config)  # unregistered again
    with pytest.raises(InputError, match="no registered task"):
        task_of(object())


def test_cli_preset_defaults_to_the_tasks_first(tmp_path):
    from reduced_dynamics.cli.main import main
    from reduced_dynamics.io.trajectory_file import open_trajectories

    out = tmp_path / "r.nc"
    assert main(["train", "images", "--n-train", "40", "--gamma", "0.1", "--steps", "5",
                 "--n-log", "2", "-q", "-o", str(out)]) == 0
    assert open_trajectories(out).attrs["preset"] == "digits-mse"


def test_the_nanda_command_runs_a_few_steps_on_cpu(tmp_path):
    """The README's GPU command (Nanda's p = 113 transformer), 10 steps on the CPU."""
    from reduced_dynamics.cli.main import main
    from reduced_dynamics.io.trajectory_file import open_trajectories

    out = tmp_path / "nanda.nc"
    assert main(["train", "modular-addition", "--preset", "nanda", "--gamma", "1",
                 "--seeds", "1", "--steps", "10", "--n-log", "2", "-q", "-o", str(out)]) == 0
    runs = open_trajectories(out)
    assert runs.sizes["run"] == 1 and runs.attrs["preset"] == "nanda"
    assert np.all(np.isfinite(runs["train_loss"].values))
    assert np.all(runs["train_loss"].values[:, -1] < runs["train_loss"].values[:, 0])


def test_digits_landscape_runs_and_validation_share_the_tasks_threshold(tmp_path):
    """probe (w, N) → train at N → validate: grokking is test_acc >= the task's
    grok_threshold (0.9 for digits) in the landscape, the runs file and the report."""
    from reduced_dynamics.cli.main import main
    from reduced_dynamics.io.trajectory_file import open_trajectories
    from reduced_dynamics.validate import validate

    land, runs = tmp_path / "l.nc", tmp_path / "r.nc"
    assert main(["probe", "images", "--alpha", "0.5,1,2,4", "--n-train", "100,300",
                 "--steps", "40", "--batch-size", "100", "-q", "-o", str(land)]) == 0
    assert main(["train", "images", "--alpha0", "1", "--gamma", "0.1", "--n-train", "300",
                 "--steps", "200", "--n-log", "10", "-q", "-o", str(runs)]) == 0
    ds = open_trajectories(runs)
    assert "test_acc >= 0.9" in ds["t_grok"].attrs["long_name"]
    report = validate(str(land), str(runs))
    assert report.attrs["grok_threshold"] == 0.9
    assert report["t_grok_measured"].values[0] == ds["t_grok"].values[0]
