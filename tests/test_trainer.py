"""Full training runs: batched = alone (vs torch.optim.AdamW), m estimator, decay, resume."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")

from reduced_dynamics.batching.mlp_bmm import reference_mlp  # noqa: E402
from reduced_dynamics.config import RunSet, TrainConfig  # noqa: E402
from reduced_dynamics.io.trajectory_file import open_trajectories  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.toy_addition import preset  # noqa: E402
from reduced_dynamics.tasks.toy_addition_torch import ToyAdditionTorch  # noqa: E402
from reduced_dynamics.training.sweep import run_training  # noqa: E402
from reduced_dynamics.training.trainer import project_on_line, train_runs  # noqa: E402

TASK = preset("paper")


def _alone_with_adamw(gamma, seed, alpha0, m0, cfg, steps):
    """The reference: one nn.Sequential + trainable embedding + torch.optim.AdamW."""
    tt = ToyAdditionTorch(TASK, torch.float64)
    model = reference_mlp(TASK.layer_sizes, seed).double()
    with torch.no_grad():
        scale = alpha0 * w0_of(TASK, seed) / torch.sqrt(
            sum((p**2).sum() for p in model.parameters()))
        for p in model.parameters():
            p.mul_(scale)
    rep = tt.representation(torch.tensor([m0], dtype=torch.float64))[0].clone()
    rep.requires_grad_(True)
    opt = torch.optim.AdamW([{"params": model.parameters(), "lr": cfg.eta_d, "weight_decay": gamma},
                             {"params": [rep], "lr": cfg.eta_r, "weight_decay": 0.0}])
    pr = tt.pairs["train"]
    y = tt.targets[tt.labels["train"]]
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(rep[pr[:, 0]] + rep[pr[:, 1]]) - y) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        w = torch.sqrt(sum((p**2).sum() for p in model.parameters()))
        return float(w), rep.detach().numpy(), float(((model(rep[pr[:, 0]] + rep[pr[:, 1]]) - y)
                                                      ** 2).mean())


def test_batched_member_equals_adamw_alone():
    """Each member, with its own gamma, follows torch.optim.AdamW(weight_decay=gamma)."""
    steps = 25
    cfg = TrainConfig(steps=steps, dtype="float64", eta_d=3e-3, eta_r=2e-3, n_log=5)
    runs = RunSet(gamma=(0.0, 0.5, 5.0), seed=(0, 1, 0), alpha0=(3.0, 1.0, 5.0),
                  m0=(0.2, 0.0, 0.7))
    logs = train_runs(TASK, cfg, runs)
    for b in range(3):
        w, _, loss = _alone_with_adamw(runs.gamma[b], runs.seed[b], runs.alpha0[b],
                                       runs.m0[b], cfg, steps)
        assert logs["w"][b, -1] == pytest.approx(w, rel=1e-10)
        assert logs["train_loss"][b, -1] == pytest.approx(loss, rel=1e-9)
    # the decays really differ: a larger gamma ends at a smaller norm for the same start
    assert len({round(v, 6) for v in logs["w"][:, -1]}) == 3


def test_m_estimator_exact_on_the_line_and_reports_residual():
    tt = ToyAdditionTorch(TASK, torch.float64)
    m = torch.tensor([0.0, 0.3, 1.0, 0.77], dtype=torch.float64)
    rep = tt.representation(m)
    m_hat, resid = project_on_line(rep, tt.r_lin, tt.r_rand)
    np.testing.assert_allclose(m_hat.numpy(), m.numpy(), atol=1e-14)
    np.testing.assert_allclose(resid.numpy(), 0.0, atol=1e-14)
    off = rep.clone()
    delta_norm = float((tt.r_rand - tt.r_lin).norm())
    # a direction orthogonal to Delta
    d = (tt.r_rand - tt.r_lin).flatten()
    v = torch.zeros_like(d)
    v[0], v[1] = d[1], -d[0]
    perp = (v / v.norm()).view_as(tt.r_lin)
    off[1] += 0.5 * delta_norm * perp
    m_hat, resid = project_on_line(off, tt.r_lin, tt.r_rand)
    assert float(m_hat[1]) == pytest.approx(0.3, abs=1e-12)
    assert float(resid[1]) == pytest.approx(0.5, rel=1e-12)


def test_resume_equals_uninterrupted(tmp_path):
    cfg = TrainConfig(steps=30, n_log=10, checkpoint_every=10, dtype="float64")
    runs = RunSet.sweep([0.1, 1.0], [0], [4.0], [0.2])
    clean = train_runs(TASK, cfg, runs)
    ckpt = tmp_path / "r.ckpt"
    train_runs(TASK, cfg, runs, checkpoint=ckpt, stop_after=17)  # killed at step 17
    assert ckpt.exists()
    resumed = train_runs(TASK, cfg, runs, checkpoint=ckpt, resume=True)
    for k in clean:
        np.testing.assert_array_equal(clean[k], resumed[k], err_msg=k)


def test_trajectory_file_round_trip(tmp_path):
    cfg = TrainConfig(steps=20, n_log=8)
    runs = RunSet.sweep([0.0, 1.0], [0, 1], [3.0], [0.1])
    ds = run_training(TASK, cfg, runs, tmp_path / "runs.nc", progress=False)
    back = open_trajectories(tmp_path / "runs.nc")
    xr.testing.assert_identical(ds, back)
    assert back.sizes == {"run": 4, "step": cfg.log_steps().size}
    assert not (tmp_path / "runs.nc.ckpt").exists()
