"""Optimisers as a choice (SPEC §13): adamw, adam, sgd with weight decay, per-run rates.

The decay tests train through `train_runs` on a task whose loss is flat (its gradient is 0
everywhere), so the norm moves by weight decay alone: θ_t = θ_0 (1 − ηγ)^t for ``sgd``
(θ ← θ − η(0 + γθ)) and ``adamw`` (θ(1 − ηγ), then an Adam step of a zero gradient: 0).
A dropped or doubled decay fails them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from reduced_dynamics.config import ProbeConfig, RunSet, TrainConfig
from reduced_dynamics.errors import InputError
from reduced_dynamics.models.mlp import MLP
from reduced_dynamics.tasks import get_task
from reduced_dynamics.tasks.base import TaskEntry, TorchTask, example_mean, register, unregister
from reduced_dynamics.training.optimizers import MemberAdam, MemberSGD
from reduced_dynamics.training.trainer import train_runs


@dataclass(frozen=True)
class FlatConfig:
    preset: str = "flat"
    positively_homogeneous = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class FlatTorch(TorchTask):
    """A 2-8-1 MLP whose loss is 0 times its output: a gradient of exactly 0."""

    def __init__(self, config, dtype=None, device="cpu") -> None:
        super().__init__(config, dtype, device)
        self.x = {s: self.tensor(np.linspace(-1, 1, 12).reshape(6, 2)) for s in ("train",
                                                                                  "test")}

    def new_module(self):
        return MLP((2, 8, 1), "tanh")

    def n_examples(self, split):
        return len(self.x[split])

    def inputs(self, rep, split, index=None):
        return self.x[split] if index is None else self.x[split][index]

    def loss(self, pred, split, index=None, weight=None):
        return example_mean(0.0 * pred[..., 0], weight)

    def accuracy(self, pred, split, index=None, weight=None):
        return example_mean(torch.ones_like(pred[..., 0]), weight)


ENTRY = TaskEntry(name="test-flat", description="flat loss (tests)", config_type=FlatConfig,
                  presets={"flat": FlatConfig()}, adapter=f"{__name__}:FlatTorch",
                  has_m=False, probe_presets={"flat": ProbeConfig(steps=10)},
                  train=TrainConfig(steps=10, n_log=2), probe_seeds=(0,), train_seeds=(0,),
                  alpha0=(1.0,))


@pytest.fixture
def flat():
    register(ENTRY)
    try:
        yield FlatConfig()
    finally:
        unregister(ENTRY.name)


STEPS = 40


def _w(config, cfg: TrainConfig, runs: RunSet) -> tuple[np.ndarray, np.ndarray]:
    logs = train_runs(config, cfg, runs)
    return logs["w"][:, 0], logs["w"][:, -1]


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_decay_alone_is_exactly_geometric_per_run(flat, optimizer):
    """Three runs of one batched model, each with its own eta and gamma (per-run rates):
    w_T = w_0 (1 - eta_b gamma_b)^T for each."""
    cfg = TrainConfig(steps=STEPS, n_log=2, dtype="float64", optimizer=optimizer)
    runs = RunSet(gamma=(0.5, 1.0, 2.0), seed=(0, 0, 1), alpha0=(1.0, 2.0, 1.0),
                  m0=(0.0,) * 3, eta_d=(1e-2, 3e-3, 1e-2))
    w0, w_end = _w(flat, cfg, runs)
    expected = w0 * (1 - np.array(runs.eta_d) * np.array(runs.gamma)) ** STEPS
    np.testing.assert_allclose(w_end, expected, rtol=1e-12)
    assert not np.allclose(w_end, w0 * (1 - 2 * np.array(runs.eta_d) * 0.5) ** STEPS)


def test_decay_with_one_rate_for_every_run(flat):
    """The torch optimisers' path (one eta): the same law."""
    cfg = TrainConfig(steps=STEPS, n_log=2, dtype="float64", optimizer="sgd", eta_d=1e-2)
    runs = RunSet(gamma=(0.3, 3.0), seed=(0, 0), alpha0=(1.0, 1.0), m0=(0.0, 0.0))
    w0, w_end = _w(flat, cfg, runs)
    np.testing.assert_allclose(w_end, w0 * (1 - 1e-2 * np.array([0.3, 3.0])) ** STEPS,
                               rtol=1e-12)


def test_adam_decay_is_coupled_not_geometric(flat):
    """adam puts gamma theta through Adam's normalisation: each weight moves by about eta
    per step whatever gamma is, so w falls linearly, not as (1 - eta gamma)^t."""
    cfg = TrainConfig(steps=STEPS, n_log=2, dtype="float64", optimizer="adam", eta_d=1e-3)
    runs = RunSet(gamma=(0.1, 1.0), seed=(0, 0), alpha0=(1.0, 1.0), m0=(0.0, 0.0))
    w0, w_end = _w(flat, cfg, runs)
    n_weights = 2 * 8 + 8 + 8 + 1
    assert np.all(w_end < w0)
    np.testing.assert_allclose(w0 - w_end, w0 - w_end[0], rtol=1e-3)  # the same for both γ
    assert (w0 - w_end)[0] == pytest.approx(STEPS * 1e-3 * np.sqrt(n_weights), rel=0.3)


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_per_run_rates_equal_each_run_trained_alone(optimizer):
    """A batched model with eta_d and eta_r per run (`MemberAdam`/`MemberSGD`) gives each
    run what the torch optimiser gives it alone with that rate (float64, 30 steps)."""
    entry = get_task("toy-addition")
    task = entry.preset()
    momentum = 0.9 if optimizer == "sgd" else 0.0
    cfg = TrainConfig(steps=30, n_log=3, dtype="float64", optimizer=optimizer,
                      momentum=momentum)
    runs = RunSet.sweep([0.1, 0.8], [0], [5.0], [0.12], eta_ds=[1e-3, 3e-3], eta_rs=[2e-3])
    assert runs.eta_d == (1e-3, 1e-3, 3e-3, 3e-3) and len(runs) == 4
    both = train_runs(task, cfg, runs)
    for b in range(len(runs)):
        one = dataclasses.replace(cfg, eta_d=runs.eta_d[b], eta_r=runs.eta_r[b])
        alone = train_runs(task, one, RunSet((runs.gamma[b],), (0,), (5.0,), (0.12,)))
        for k in ("w", "m", "train_loss"):
            np.testing.assert_allclose(both[k][b], alone[k][0], rtol=1e-9, err_msg=k)


def test_member_optimisers_with_equal_rates_match_torch():
    """`MemberAdam`/`MemberSGD` with a per-member rate tensor of equal values reproduce
    torch's Adam/SGD with that rate."""
    torch.manual_seed(0)
    p0 = torch.randn(3, 4, dtype=torch.float64)
    grads = [torch.randn(3, 4, dtype=torch.float64) for _ in range(5)]
    for ours, theirs in [
        (lambda p: MemberAdam([{"params": [p], "lr": torch.full((3,), 1e-2,
                                                                  dtype=p.dtype)}],
                              (0.9, 0.999), 1e-8),
         lambda p: torch.optim.Adam([p], lr=1e-2)),
        (lambda p: MemberSGD([{"params": [p], "lr": torch.full((3,), 1e-2,
                                                                 dtype=p.dtype)}], 0.5),
         lambda p: torch.optim.SGD([p], lr=1e-2, momentum=0.5)),
    ]:
        a, b = p0.clone().requires_grad_(), p0.clone().requires_grad_()
        oa, ob = ours(a), theirs(b)
        for g in grads:
            a.grad, b.grad = g.clone(), g.clone()
            oa.step()
            ob.step()
        torch.testing.assert_close(a, b, rtol=1e-14, atol=0)


def test_config_refusals():
    with pytest.raises(InputError, match="`optimizer` must be one of"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(InputError, match="`momentum` is the heavy-ball momentum of sgd"):
        TrainConfig(momentum=0.9)
    with pytest.raises(InputError, match="`eta_d` needs one learning rate per run"):
        RunSet(gamma=(0.1, 0.2), seed=(0, 0), alpha0=(1.0, 1.0), m0=(0.0, 0.0), eta_d=(1e-3,))
    with pytest.raises(InputError, match="`eta_d` must be a finite number > 0"):
        RunSet(gamma=(0.1,), seed=(0,), alpha0=(1.0,), m0=(0.0,), eta_d=(0.0,))
    cfg = TrainConfig(eta_d=1e-3)
    runs = RunSet(gamma=(0.1, 500.0), seed=(0, 0), alpha0=(1.0, 1.0), m0=(0.0, 0.0),
                  eta_d=(1e-3, 1e-2))
    with pytest.raises(InputError, match=r"gamma = 500 with eta_d = 0\.01"):
        cfg.check_decay(runs)
    with pytest.raises(InputError, match="eta_d"):
        TrainConfig(eta_d=1e38)  # Adam's first step lr / (1 - beta1) overflows float32
    assert TrainConfig(optimizer="sgd", eta_d=1e38).eta_d == 1e38  # no such limit for sgd


def test_train_cli_grid_over_eta_d_with_sgd(tmp_path, capsys):
    """`train --optimizer sgd --eta-d A,B --gamma G1,G2`: one file of 4 runs whose eta_d and
    gamma coordinates form the grid, the optimiser recorded; resume refuses another eta."""
    from reduced_dynamics.cli.main import main
    from reduced_dynamics.io.schema import config_of
    from reduced_dynamics.io.trajectory_file import open_trajectories

    out = tmp_path / "r.nc"
    argv = ["train", "toy-addition", "--optimizer", "sgd", "--eta-d", "1e-3,3e-3",
            "--gamma", "0.1,1", "--seeds", "1", "--steps", "20", "--n-log", "4", "-q",
            "--threads", "1", "-o", str(out)]
    assert main(argv) == 0
    ds = open_trajectories(out)
    assert ds["eta_d"].values.tolist() == [1e-3, 1e-3, 3e-3, 3e-3]
    assert ds["gamma"].values.tolist() == [0.1, 1.0, 0.1, 1.0]
    assert config_of(ds)["train"]["optimizer"] == "sgd"
    assert config_of(ds)["runs"]["eta_d"] == [1e-3, 1e-3, 3e-3, 3e-3]
    assert "gradient descent" in ds["gamma"].attrs["long_name"]
    capsys.readouterr()
    assert main(["train", "toy-addition", "--momentum", "0.9", "--steps", "5", "-o",
                 str(tmp_path / "m.nc")]) == 2
    assert "heavy-ball momentum of sgd" in capsys.readouterr().err
