"""Committed results re-derived through the code: the first 100 steps of the toy study's runs
(``docs/data/toy_study_runs.nc``: 12 AdamW runs as one batched model, float32, one torch
thread, torch 2.13.0+cpu, on another CPU model) retrained from the file's own settings.

Float32 rounding is all that may differ: a different CPU takes other kernels (measured
here: 1.3e-6 relative at most in the losses, 2.5e-7 in w and m up to step 100), and
training amplifies it only slowly this early (`training.sweep`: ~1e-7 at step 100 between
groupings). The bound is 32 float32 ulps of each value; for the residual, 32 ulps absolute:
it is |R - R(m_hat)| / |R_rand - R_lin|, a difference of representation values of order 1
(here |R| <= 1, |D| = 2.04), which starts at rounding level (3e-8). Accuracies to one
example.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reduced_dynamics.config import RunSet, TrainConfig  # noqa: E402
from reduced_dynamics.io.trajectory_file import open_trajectories  # noqa: E402
from reduced_dynamics.tasks import get_task  # noqa: E402
from reduced_dynamics.tasks.base import with_field_defaults  # noqa: E402
from reduced_dynamics.training.trainer import BatchedRuns  # noqa: E402

RUNS = Path(__file__).resolve().parents[1] / "docs" / "data" / "toy_study_runs.nc"
ULPS = 32 * float(np.finfo(np.float32).eps)
LAST_STEP = 100


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_toy_study_runs_first_steps_are_reproduced(one_thread):
    ds = open_trajectories(RUNS)
    config = json.loads(ds.attrs["config_json"])
    assert config["torch_threads"] == 1 and config["runs_per_model"] == len(ds["run"])
    task = get_task(ds.attrs["task"]).preset(config["task"]["preset"])
    # the same preset (fields added since the file was written compare at their defaults)
    assert with_field_defaults(ds.attrs["task"], json.loads(json.dumps(task.to_dict()))) == (
        with_field_defaults(ds.attrs["task"], config["task"]))
    cfg = TrainConfig(**config["train"])
    runs = RunSet(**{k: tuple(v) if v is not None else None
                     for k, v in config["runs"].items()})
    state = BatchedRuns(task, cfg, runs)
    steps = ds["step"].values
    n_train, n_test = (state.tt.n_examples(s) for s in ("train", "test"))
    checked = 0
    for k in np.flatnonzero(steps <= LAST_STEP):
        while state.step < steps[k]:
            state.advance()
        got = state.measure()
        for name in ("w", "m", "train_loss", "test_loss"):
            np.testing.assert_allclose(got[name], ds[name].values[:, k], rtol=ULPS, atol=0,
                                       err_msg=f"{name} at step {steps[k]}")
        np.testing.assert_allclose(got["residual"], ds["residual"].values[:, k], rtol=0,
                                   atol=ULPS, err_msg=f"residual at step {steps[k]}")
        for name, n in (("train_acc", n_train), ("test_acc", n_test)):
            assert np.abs(got[name] - ds[name].values[:, k]).max() <= 1 / n + 1e-12, name
        checked += 1
    assert checked >= 50 and (ds["status"].values == 0).all()
