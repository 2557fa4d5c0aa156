"""Continuation in w (issue 19): the function-preserving lift, the continued landscape, and
the restarts of several init seeds (``merge-seeds``, ``predict --seed``, validate's
pairing of each run with its own seed's restart)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reduced_dynamics.batching.lift import lift_to_norm  # noqa: E402
from reduced_dynamics.batching.mlp_bmm import forward  # noqa: E402
from reduced_dynamics.batching.stacking import sq_norm  # noqa: E402
from reduced_dynamics.cli.main import main  # noqa: E402
from reduced_dynamics.config import ProbeConfig  # noqa: E402
from reduced_dynamics.engine.prepare import prepare_landscape  # noqa: E402
from reduced_dynamics.errors import InputError  # noqa: E402
from reduced_dynamics.io.landscape_file import open_landscape  # noqa: E402
from reduced_dynamics.landscape.continuation import continue_landscape  # noqa: E402
from reduced_dynamics.landscape.merge import merge_seeds  # noqa: E402
from reduced_dynamics.landscape.restarts import restart_of  # noqa: E402
from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape  # noqa: E402
from reduced_dynamics.names import ProbeStart  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.toy_addition import preset  # noqa: E402

TASK = preset("paper")
PROBE = ProbeConfig(steps=60, schedule="cosine", lr_scaling="alpha", dtype="float64")
ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0)


def _probe(path, seed: int, alphas=ALPHAS, m=(0.0, 0.5)):
    w0 = w0_of(TASK, seed)
    grid = ProbeGrid(tuple(a * w0 for a in alphas), m, (seed,))
    return probe_landscape(TASK, PROBE, grid, path, progress=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("cont") / "src.nc"
    _probe(path, 0)
    return path


@pytest.fixture(scope="module")
def continued(source):
    out = source.with_name("cont.nc")
    return out, continue_landscape(source, out, steps=60, progress=False)


def test_the_lift_keeps_the_function_and_reaches_the_norm():
    gen = torch.Generator().manual_seed(0)
    sizes = [(3, 7), (1, 7), (7, 5), (1, 5), (5, 2), (1, 2)]  # bmm leaves: W.T, b
    theta = [torch.randn(4, *s, generator=gen, dtype=torch.float64) for s in sizes]
    target = sq_norm(theta).sqrt() * torch.tensor([1.0, 1.5, 4.0, 30.0], dtype=torch.float64)
    lifted = lift_to_norm(theta, target)
    np.testing.assert_allclose(sq_norm(lifted).sqrt(), target, rtol=1e-10)
    x = torch.randn(4, 11, 3, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(forward(lifted, x), forward(theta, x), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="only raises"):
        lift_to_norm(theta, 0.5 * sq_norm(theta).sqrt())


def test_continued_landscape_is_never_worse_and_says_where_each_point_started(
        source, continued):
    src = open_landscape(source)
    path, ds = continued
    assert open_landscape(path)["probe_start"].dims == ("w", "m")
    loss, init = ds["train_loss"].values, ds["scaled_init_train_loss"].values
    np.testing.assert_array_equal(init, src["train_loss"].values)
    assert (loss <= init).all()  # each point keeps the lower train loss of the two
    start = ds["probe_start"].values
    assert (start[0] == ProbeStart.SCALED_INIT).all()  # the smallest w is the source's own
    np.testing.assert_array_equal(loss[start == 0], init[start == 0])
    # a short source probe leaves the large-w arm high; the continuation brings it down
    assert loss[-1, 0] < 0.1 * init[-1, 0]
    assert (start[1:] != ProbeStart.SCALED_INIT).sum() >= 4
    lifted = start == ProbeStart.LIFTED
    assert not ds["converged"].values[lifted].any()
    # the chain restarts from the source's probe where that was better and keeps its start
    # where Adam made it worse: l~_train cannot rise with w (up to the rounding of the
    # recomputed source probe)
    assert (np.diff(loss, axis=0) <= 1e-6 * loss[:-1] + 1e-12).all(), loss
    config = json.loads(ds.attrs["config_json"])
    assert config["continuation"]["steps"] == 60 and config["continuation"]["source"] == \
        "src.nc"


def test_continuation_resumes_at_the_next_stage(source, continued, tmp_path, monkeypatch):
    from reduced_dynamics.landscape import continuation

    calls = {"n": 0}
    real = continuation.PartStore.write

    def stop_after_two(self, chunk, members, results):
        real(self, chunk, members, results)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(continuation.PartStore, "write", stop_after_two)
    out = tmp_path / "resumed.nc"
    with pytest.raises(KeyboardInterrupt):
        continue_landscape(source, out, steps=60, progress=False)
    monkeypatch.setattr(continuation.PartStore, "write", real)
    with pytest.raises(InputError, match="--resume"):
        continue_landscape(source, out, steps=60, progress=False)
    resumed = continue_landscape(source, out, steps=60, progress=False, resume=True)
    np.testing.assert_allclose(resumed["train_loss"].values,
                               continued[1]["train_loss"].values, rtol=1e-9)
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(continuation.PartStore, "write", stop_after_two)
        calls["n"] = 1
        continue_landscape(source, tmp_path / "other.nc", steps=60, progress=False)
    monkeypatch.setattr(continuation.PartStore, "write", real)
    with pytest.raises(InputError, match="steps"):  # another setting: not this job's stages
        continue_landscape(source, tmp_path / "other.nc", steps=70, progress=False,
                           resume=True)


def test_continuation_refusals(source, tmp_path):
    with pytest.raises(InputError, match="`steps`"):
        continue_landscape(source, tmp_path / "x.nc", steps=0)
    with pytest.raises(InputError, match="`lr`"):
        continue_landscape(source, tmp_path / "x.nc", lr=-1.0)
    assert not (tmp_path / "x.nc").exists()


def test_merge_seeds_and_each_restart(tmp_path, source):
    other = tmp_path / "seed1.nc"
    _probe(other, 1)
    merged = merge_seeds([other, source], tmp_path / "both.nc")
    assert list(merged["seed"].values) == [0, 1]
    one = restart_of(merged, 1)
    alone = open_landscape(other)
    np.testing.assert_array_equal(one["train_loss"].values, alone["train_loss"].values)
    np.testing.assert_allclose(one["w"].values, alone["w"].values, rtol=1e-12)
    assert one.attrs["w0"] == pytest.approx(alone.attrs["w0"])
    best = merged["train_loss"].values
    assert (best <= one["train_loss"].values).all()
    with pytest.raises(InputError, match=r"seeds \[0, 1\]"):
        restart_of(merged, 7)
    with pytest.raises(InputError, match="disjoint"):
        merge_seeds([source, source], tmp_path / "twice.nc")
    short = tmp_path / "short.nc"
    _probe(short, 2, alphas=ALPHAS[:4])
    with pytest.raises(InputError, match="alpha grids"):
        merge_seeds([source, short], tmp_path / "grids.nc")
    assert not (tmp_path / "grids.nc").exists()


def test_predict_and_validate_use_the_runs_own_restart(tmp_path, source, capsys):
    from reduced_dynamics.config import RunSet, TrainConfig
    from reduced_dynamics.training.sweep import run_training
    from reduced_dynamics.validate import validate

    other = tmp_path / "seed1.nc"
    _probe(other, 1)
    merged_path = tmp_path / "both.nc"
    merge_seeds([source, other], merged_path)
    prep = prepare_landscape(merged_path, seed=1)
    assert prep.restart == "seed 1" and prepare_landscape(merged_path).restart == \
        "best over seeds"
    runs = tmp_path / "runs.nc"
    run_training(TASK, TrainConfig(steps=30, n_log=5, dtype="float64"),
                 RunSet.sweep([0.5], [0, 1, 2], [5.0], [0.2]), runs, progress=False)
    report = validate(merged_path, runs)
    assert list(report["restart"].values) == [0, 1, -1]  # seed 2: not in the file
    best = validate(merged_path, runs, restarts="best")
    assert list(best["restart"].values) == [-1, -1, -1]
    rc = main(["validate", str(merged_path), str(runs), "-o", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert rc == 0 and "the run's own seed (seeds 0, 1) for 2 run(s); best over seeds " \
        "for 1 run(s)" in out
    assert main(["predict", str(merged_path), "--seed", "1", "--gamma", "0.1"]) == 0
    assert "restart: seed 1" in capsys.readouterr().out
    assert main(["predict", str(merged_path), "--seed", "4"]) != 0
    assert "has restarts for seeds [0, 1]" in capsys.readouterr().err


def test_cli_continuation_and_merge_seeds(source, tmp_path, capsys):
    out = tmp_path / "cli.nc"
    assert main(["continuation", str(source), "--steps", "20", "-q", "-o", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"wrote {out}: 10 point(s), ") and "unconverged" in line
    assert main(["continuation", str(source), "--steps", "5", "-o", str(tmp_path / "b.nc")]) \
        != 0
    assert "`steps` must be" in capsys.readouterr().err
    assert main(["merge-seeds", str(source), str(source), "-o", str(tmp_path / "m.nc")]) != 0
    assert "seed 0 is in both" in capsys.readouterr().err
