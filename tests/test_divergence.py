"""A diverging run is data, not a crash: frozen, marked, saved; the others unchanged.

Divergence is provoked by real float32 overflow, no injection:
* training, in the middle of a run: weight decay gamma = 3000 with eta_d = 1e-3 multiplies
  theta by 1 - 3 = -2 every step, so the norm doubles and the loss (degree 6 in theta)
  overflows after ~20 steps. `run_training` and the CLI refuse eta_d gamma >= 1 up front
  (a decay factor <= 0 is no weight decay), so this run is made with `train_runs` itself;
* training through `run_training` and the CLI: a run started at alpha0 = 1e13 has outputs
  ~ alpha0^3 = 1e39 > 3.4e38 and overflows at step 0;
* probe: a grid point at alpha = 1e7 has outputs ~ alpha^3 = 1e21, a loss ~ 1e42 > 3.4e38
  at step 0.
Also: a failed final write keeps what was computed and ``--resume`` only writes.
"""

from __future__ import annotations

import errno
from pathlib import Path

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
from reduced_dynamics.errors import FileCheckError, WriteError  # noqa: E402
from reduced_dynamics.io.landscape_file import check_landscape, open_landscape  # noqa: E402
from reduced_dynamics.io.resources import landscape_path  # noqa: E402
from reduced_dynamics.io.trajectory_file import (  # noqa: E402
    check_trajectories,
    open_trajectories,
    save_trajectories,
)
from reduced_dynamics.landscape.sweep import (  # noqa: E402
    ProbeGrid,
    probe_landscape,
    reduce_over_seeds,
)
from reduced_dynamics.names import LOGGED_VARS, RunStatus  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.toy_addition import preset  # noqa: E402
from reduced_dynamics.tasks.toy_addition_torch import ToyAdditionTorch  # noqa: E402
from reduced_dynamics.training.sweep import run_training, trajectory_dataset  # noqa: E402
from reduced_dynamics.training.trainer import train_runs  # noqa: E402
from reduced_dynamics.validate import table, validate  # noqa: E402

TASK = preset("paper")
CFG = TrainConfig(steps=40, n_log=40, dtype="float32")
BAD_GAMMA = 3000.0  # eta_d gamma = 3: AdamW's decay factor is -2 per step
BAD_ALPHA0 = 1e13  # accepted by every check (alpha0 w0 < sqrt(float32 max)); overflows


def _runs_bad_start() -> RunSet:
    return RunSet(gamma=(0.1, 0.5, 1.0), seed=(0, 0, 1), alpha0=(3.0, BAD_ALPHA0, 3.0),
                  m0=(0.1,) * 3)


def _runs(middle_gamma: float) -> RunSet:
    return RunSet(gamma=(0.1, middle_gamma, 1.0), seed=(0, 0, 1), alpha0=(3.0,) * 3,
                  m0=(0.1,) * 3)


@pytest.fixture(scope="module")
def trained():
    """The sweep with the diverging run in the middle, and the same sweep with a good one."""
    return train_runs(TASK, CFG, _runs(BAD_GAMMA)), train_runs(TASK, CFG, _runs(0.5))


def _first_nonfinite_step_alone(gamma: float, seed: int, alpha0: float, m0: float,
                                cfg: TrainConfig) -> int:
    """Reference: one nn.Sequential + trainable representation + torch.optim.AdamW (float32);
    the first step whose loss or a gradient is not finite (-1: none)."""
    tt = ToyAdditionTorch(TASK, torch.float32)
    model = reference_mlp(TASK.layer_sizes, seed)
    with torch.no_grad():
        scale = alpha0 * w0_of(TASK, seed) / torch.sqrt(
            sum((p.double() ** 2).sum() for p in model.parameters()))
        for p in model.parameters():
            p.mul_(float(scale))
    rep = tt.representation(torch.tensor([m0]))[0].clone().requires_grad_(True)
    opt = torch.optim.AdamW([{"params": model.parameters(), "lr": cfg.eta_d,
                              "weight_decay": gamma},
                             {"params": [rep], "lr": cfg.eta_r, "weight_decay": 0.0}])
    pr, y = tt.pairs["train"], tt.targets[tt.labels["train"]]
    for step in range(cfg.steps):
        opt.zero_grad()
        loss = ((model(rep[pr[:, 0]] + rep[pr[:, 1]]) - y) ** 2).mean()
        loss.backward()
        grads = [p.grad for p in model.parameters()] + [rep.grad]
        if not (torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)):
            return step
        opt.step()
    return -1


def test_diverging_run_is_frozen_marked_and_the_others_are_unchanged(trained):
    bad, good = trained
    np.testing.assert_array_equal(bad["status"], [RunStatus.OK, RunStatus.DIVERGED,
                                                  RunStatus.OK])
    step = bad["diverged_step"][1]
    assert np.isnan(bad["diverged_step"][[0, 2]]).all()
    assert 5 < step < CFG.steps  # a real overflow in the middle of the run
    # the step is where plain torch.optim.AdamW, alone, first meets inf/NaN
    assert step == _first_nonfinite_step_alone(BAD_GAMMA, 0, 3.0, 0.1, CFG)
    log_steps = CFG.log_steps()
    for k in LOGGED_VARS:  # NaN exactly from diverged_step on
        assert np.isfinite(bad[k][1, log_steps < step]).all(), k
        assert np.isnan(bad[k][1, log_steps >= step]).all(), k
    # before the overflow the norm doubled every step (decay factor -2)
    w = bad["w"][1, (log_steps >= 1) & (log_steps < step)]
    assert np.allclose(w[1:] / w[:-1], 2.0 ** np.diff(log_steps[(log_steps >= 1)
                                                                 & (log_steps < step)]),
                       rtol=0.05)
    # the other members, in the same batch positions, are bit for bit as beside a good run
    for k in (*LOGGED_VARS, "t_overfit", "t_grok"):
        np.testing.assert_array_equal(bad[k][[0, 2]], good[k][[0, 2]], err_msg=k)
        assert np.isfinite(bad[k][[0, 2]]).all() or k.startswith("t_")


def test_diverged_member_is_frozen_with_finite_state(trained):
    """After the overflow the member stops: finite parameters that no longer change, and
    no inf/NaN gradient in its optimiser state (replaced by 0, not multiplied; the finite
    gradients above 1.8e19 before that can make its second moment inf)."""
    from reduced_dynamics.training.trainer import BatchedRuns

    step = int(trained[0]["diverged_step"][1])
    state = BatchedRuns(TASK, CFG, _runs(BAD_GAMMA))
    for _ in range(step + 1):
        state.advance()
    assert state.guard.diverged_step.tolist() == [-1, step, -1]
    frozen = [p[1].detach().clone() for p in state.leaves]
    for _ in range(3):
        state.advance()
    for p, q in zip(state.leaves, frozen):
        assert torch.isfinite(q).all()
        assert torch.equal(p[1], q)
    for moments in state.opt.state.values():
        assert torch.isfinite(moments["exp_avg"]).all()
        assert not torch.isnan(moments["exp_avg_sq"][1]).any()
        assert torch.isfinite(moments["exp_avg_sq"][[0, 2]]).all()


def test_guard_keeps_a_nan_gradient_out_of_adam():
    """A NaN gradient of member 1 never reaches Adam's state; member 0 steps as alone."""
    from reduced_dynamics.batching.divergence import DivergenceGuard, finite_members

    start = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    leaf = start.clone().requires_grad_(True)
    alone = start[:1].clone().requires_grad_(True)
    opt, opt_alone = torch.optim.Adam([leaf], lr=0.1), torch.optim.Adam([alone], lr=0.1)
    guard = DivergenceGuard([leaf])
    for step in range(3):
        leaf.grad = torch.tensor([[0.5, -1.0], [float("nan"), 1.0]])
        alone.grad = torch.tensor([[0.5, -1.0]])
        guard.mark(step, finite_members([leaf.grad]))
        guard.zero_grads()
        opt.step()
        opt_alone.step()
        guard.restore()
    assert guard.diverged_step.tolist() == [-1, 0]
    assert guard.status().tolist() == [RunStatus.OK, RunStatus.DIVERGED]
    assert torch.equal(leaf[1], start[1])
    assert torch.equal(leaf[0], alone[0])
    assert all(torch.isfinite(v).all() for v in opt.state[leaf].values())


def test_the_others_match_a_sweep_without_the_bad_run(trained):
    bad, _ = trained
    without = train_runs(TASK, CFG, _runs(BAD_GAMMA).subset([0, 2]))
    assert (without["status"] == RunStatus.OK).all()
    for k in LOGGED_VARS:  # another batch size: rounding only
        np.testing.assert_allclose(bad[k][[0, 2]], without[k], rtol=1e-5, atol=1e-7,
                                   err_msg=k)


def test_resume_across_the_divergence_equals_uninterrupted(trained, tmp_path):
    bad, _ = trained
    step = int(bad["diverged_step"][1])
    cfg = TrainConfig(steps=CFG.steps, n_log=CFG.n_log, dtype="float32", checkpoint_every=5)
    ckpt = tmp_path / "r.ckpt"
    train_runs(TASK, cfg, _runs(BAD_GAMMA), checkpoint=ckpt, stop_after=step + 7)
    resumed = train_runs(TASK, cfg, _runs(BAD_GAMMA), checkpoint=ckpt, resume=True)
    for k in bad:
        np.testing.assert_array_equal(bad[k], resumed[k], err_msg=k)


def test_trajectory_file_with_a_diverged_run_opens_and_validates(tmp_path, capsys):
    out = tmp_path / "runs.nc"
    assert main(["train", "toy-addition", "--steps", "40", "--n-log", "40", "--gamma",
                 "0.1", "--seeds", "1", "--alpha0", f"3,{BAD_ALPHA0:g}", "--m0", "0.1",
                 "-q", "-o", str(out)]) == 0
    assert "1 diverged run(s)" in capsys.readouterr().out
    ds = open_trajectories(out)
    assert ds["status"].values.tolist() == [RunStatus.OK, RunStatus.DIVERGED]
    assert ds["status"].attrs["flag_meanings"] == "ok diverged"
    assert ds["status"].attrs["flag_values"].tolist() == [0, 1]
    assert ds["diverged_step"].attrs["units"] == "steps"
    step = float(ds["diverged_step"][1])
    assert np.isnan(ds["w"].sel(step=ds["step"] >= step)[1]).all()
    report = validate(landscape_path(), ds)
    assert report["status_predicted"].values[1] == "diverged"
    assert np.isnan(report["t_grok_ratio"].values[1])
    assert report["status_predicted"].values[0] != "diverged"
    assert np.isfinite(report["w_predicted"].values[0, 1:]).all()
    assert "1 of 2 runs diverged" in table(report)
    assert main(["validate", str(landscape_path()), str(out), "-o",
                 str(tmp_path / "report")]) == 0
    assert "diverged" in capsys.readouterr().out


def test_chunked_training_marks_the_same_run(tmp_path):
    runs = _runs_bad_start()
    ds = run_training(TASK, CFG, runs, tmp_path / "c.nc", chunk_size=2, progress=False)
    whole = train_runs(TASK, CFG, runs)
    np.testing.assert_array_equal(ds["status"].values, whole["status"])
    np.testing.assert_array_equal(ds["diverged_step"].values, whole["diverged_step"])
    xr.testing.assert_identical(open_trajectories(tmp_path / "c.nc"), ds)


# ------------------------------------------------------------------------------ probe
def _probe_grid(top_alpha: float) -> ProbeGrid:
    w0 = w0_of(TASK, 0)
    return ProbeGrid(w=tuple(w0 * np.array([0.5, 1.0, 3.0, top_alpha])), m=(0.0, 0.5),
                     seeds=(0, 1))


PROBE = ProbeConfig(steps=20, chunk_size=5)  # chunks mix good and bad points


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    bad = probe_landscape(TASK, PROBE, _probe_grid(1e7), folder / "bad.nc", progress=False)
    good = probe_landscape(TASK, PROBE, _probe_grid(5.0), folder / "good.nc", progress=False)
    return folder / "bad.nc", bad, good


def test_probe_point_that_overflows_is_marked_and_the_rest_written(probed):
    path, bad, good = probed
    ds = open_landscape(path)
    top = {"w": ds["w"].values[-1]}
    assert (ds["status"].sel(top) == RunStatus.DIVERGED).all()
    assert (ds["status_by_seed"].sel(top) == RunStatus.DIVERGED).all()
    assert (ds["diverged_step_by_seed"].sel(top) == 0).all()  # the loss is inf at once
    assert not ds["converged"].sel(top).any()
    for var in ("train_loss", "test_loss", "train_acc", "dtrain_dw", "dtrain_dm"):
        assert np.isnan(ds[var].sel(top)).all(), var
    rest = {"w": ds["w"].values[:-1]}
    assert (ds["status"].sel(rest) == RunStatus.OK).all()
    assert np.isnan(ds["diverged_step"].sel(rest)).all()
    # the other members (same chunks, same positions) are bit for bit as beside good points
    for name in good.data_vars:
        if "w" in good[name].dims:
            np.testing.assert_array_equal(bad[name].isel(w=slice(0, 3)).values,
                                          good[name].isel(w=slice(0, 3)).values,
                                          err_msg=name)
    assert (good["status"] == RunStatus.OK).all()


def test_landscape_with_diverged_points_works_downstream(probed, tmp_path, capsys):
    path, _, _ = probed
    assert main(["info", str(path)]) == 0
    assert "diverged (NaN, among the unconverged): 2 of 8 points" in capsys.readouterr().out
    assert main(["plot", str(path), "-o", str(tmp_path / "l.png")]) == 0
    from reduced_dynamics.engine.prepare import prepare_landscape

    prep = prepare_landscape(path)  # NaN nodes are filled as for unconverged points
    assert prep.interp.info["filled"]["train_loss"] == 2


def test_reduce_over_seeds_picks_among_restarts_that_did_not_diverge():
    ok, div = RunStatus.OK, RunStatus.DIVERGED
    # points: (a) seed 0 diverged with a (bogus) lower loss; (b) both ok;
    # (c) both diverged, seed 1 later
    per_seed = {
        "train_loss": np.array([[0.1, 0.5, np.nan], [0.3, 0.2, np.nan]]),
        "test_loss": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        "converged": np.array([[True, True, False], [True, False, False]]),
        "status": np.array([[div, ok, div], [ok, ok, div]], np.int8),
        "diverged_step": np.array([[3.0, np.nan, 2.0], [np.nan, np.nan, 7.0]]),
    }
    out = reduce_over_seeds(per_seed)
    np.testing.assert_array_equal(out["best_seed"], [1, 1, 1])
    np.testing.assert_array_equal(out["train_loss"], [0.3, 0.2, np.nan])
    np.testing.assert_array_equal(out["test_loss"], [4.0, 5.0, np.nan])
    np.testing.assert_array_equal(out["converged"], [True, False, False])
    np.testing.assert_array_equal(out["status"], [ok, ok, div])
    np.testing.assert_array_equal(out["diverged_step"], [np.nan, np.nan, 7.0])


# ------------------------------------------------------------------------ file checks
@pytest.fixture(scope="module")
def trajectory(tmp_path_factory):
    path = tmp_path_factory.mktemp("traj") / "runs.nc"
    runs = _runs(BAD_GAMMA)  # diverges mid-run; run_training would refuse eta_d gamma >= 1
    save_trajectories(trajectory_dataset(TASK, CFG, runs, train_runs(TASK, CFG, runs)), path)
    return open_trajectories(path)


def test_trajectory_check_allows_nan_only_after_divergence(trajectory):
    ds = trajectory
    step = float(ds["diverged_step"][1])
    early = ds.copy(deep=True)
    early["train_loss"][1, int(np.argmax(ds["step"].values >= step)) - 1] = np.nan
    with pytest.raises(FileCheckError, match="NaN or inf at run 1"):
        check_trajectories(early)
    in_ok_run = ds.copy(deep=True)
    in_ok_run["w"][0, -1] = np.nan
    with pytest.raises(FileCheckError, match="NaN or inf at run 0"):
        check_trajectories(in_ok_run)
    relabelled = ds.copy(deep=True)
    relabelled["status"][1] = RunStatus.OK
    with pytest.raises(FileCheckError, match="diverged_step"):
        check_trajectories(relabelled)
    unknown = ds.copy(deep=True)
    unknown["status"][0] = 7
    with pytest.raises(FileCheckError, match="unknown codes"):
        check_trajectories(unknown)
    with pytest.raises(FileCheckError, match="without `diverged_step`"):
        check_trajectories(ds.drop_vars("diverged_step"))


def test_landscape_check_with_status(probed):
    ds = open_landscape(probed[0])
    check_landscape(ds)
    nan_at_ok = ds.copy(deep=True)
    nan_at_ok["converged"][0, 0] = False
    nan_at_ok["test_loss"][0, 0] = np.nan
    with pytest.raises(FileCheckError, match="point whose `status` is ok"):
        check_landscape(nan_at_ok)
    converged_diverged = ds.copy(deep=True)
    converged_diverged["converged"][-1, 0] = True
    with pytest.raises(FileCheckError, match="diverged is marked converged"):
        check_landscape(converged_diverged)
    no_step = ds.copy(deep=True)
    no_step["diverged_step"][-1, 0] = np.nan
    with pytest.raises(FileCheckError, match="must be a step >= 0"):
        check_landscape(no_step)


# ------------------------------------------------------------- failed final write
def _fail_writes_to(monkeypatch, output: Path) -> None:
    """``to_netcdf`` fails with 'no space left' for the temporary file of ``output`` only."""
    real = xr.Dataset.to_netcdf

    def full_disk(self, path=None, *args, **kwargs):
        if path is not None and Path(path).name.startswith(f".{output.name}."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)


def _forbid(monkeypatch, owner, name: str) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} was called: resume recomputed instead of writing")

    monkeypatch.setattr(owner, name, refuse)


def test_failed_final_write_of_unchunked_train_resumes_by_writing(tmp_path, monkeypatch,
                                                                 capsys):
    from reduced_dynamics.training.trainer import BatchedRuns

    out = tmp_path / "runs.nc"
    args = ["train", "toy-addition", "--steps", "12", "--n-log", "5", "--gamma", "0.1,1",
            "--seeds", "1", "-q"]
    with monkeypatch.context() as m:
        _fail_writes_to(m, out)
        assert main([*args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "No space left on device" in err
    assert "--resume" in err and "runs.nc.ckpt" in err
    assert (tmp_path / "runs.nc.ckpt").exists() and not out.exists()
    with monkeypatch.context() as m:
        _forbid(m, BatchedRuns, "advance")
        assert main([*args, "-o", str(out), "--resume"]) == 0
    assert not (tmp_path / "runs.nc.ckpt").exists()
    assert main([*args, "-o", str(tmp_path / "clean.nc")]) == 0
    written, clean = open_trajectories(out), open_trajectories(tmp_path / "clean.nc")
    for name in clean.data_vars:
        np.testing.assert_array_equal(written[name].values, clean[name].values, name)


def test_failed_final_write_of_chunked_train_resumes_by_writing(tmp_path, monkeypatch):
    from reduced_dynamics.training.sweep import TrainChunk

    out = tmp_path / "runs.nc"
    cfg, runs = TrainConfig(steps=10, n_log=4), RunSet.sweep([0.1, 1.0], [0], [3.0], [0.1])
    with monkeypatch.context() as m:
        _fail_writes_to(m, out)
        with pytest.raises(WriteError, match=r"finished chunks are kept.*--resume"):
            run_training(TASK, cfg, runs, out, chunk_size=1, progress=False)
    assert len(list((tmp_path / "runs.nc.parts").glob("chunk_*.nc"))) == 2
    with monkeypatch.context() as m:
        _forbid(m, TrainChunk, "__call__")
        ds = run_training(TASK, cfg, runs, out, chunk_size=1, resume=True, progress=False)
    xr.testing.assert_identical(open_trajectories(out), ds)
    assert not (tmp_path / "runs.nc.parts").exists()


def test_failed_final_write_of_probe_resumes_by_writing(tmp_path, monkeypatch):
    from reduced_dynamics.landscape.sweep import ProbeChunk

    out = tmp_path / "l.nc"
    probe, grid = ProbeConfig(steps=10, chunk_size=8), _probe_grid(5.0)
    with monkeypatch.context() as m:
        _fail_writes_to(m, out)
        with pytest.raises(WriteError, match=r"finished chunks are kept.*--resume"):
            probe_landscape(TASK, probe, grid, out, progress=False)
    with monkeypatch.context() as m:
        _forbid(m, ProbeChunk, "__call__")
        ds = probe_landscape(TASK, probe, grid, out, resume=True, progress=False)
    assert (ds["status"] == RunStatus.OK).all()
    xr.testing.assert_identical(open_landscape(out).drop_attrs(), ds.drop_attrs())


def test_checkpoint_that_cannot_be_written(tmp_path, monkeypatch):
    """Mid-run: one `WriteError` line; the final one: the output is still written."""
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    runs = RunSet.sweep([0.1], [0], [3.0], [0.1])
    with pytest.raises(WriteError, match="could not write the checkpoint") as info:
        run_training(TASK, TrainConfig(steps=6, n_log=3, checkpoint_every=3), runs,
                     tmp_path / "a.nc", progress=False)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no half-written .tmp left behind
    ds = run_training(TASK, TrainConfig(steps=6, n_log=3, checkpoint_every=100), runs,
                      tmp_path / "b.nc", progress=False)
    xr.testing.assert_identical(open_trajectories(tmp_path / "b.nc"), ds)
