"""Numbers the README's text section (issue 21) quotes, read back from the committed files:
the shipped (w, N) landscape of `imdb-cpu` and the runs in docs/data/text_runs.nc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reduced_dynamics.engine.parameters import critical_n_train
from reduced_dynamics.engine.thresholds import grok_threshold_of
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories

ROOT = Path(__file__).resolve().parent.parent
README = " ".join((ROOT / "README.md").read_text().split())
LANDSCAPE = ROOT / "landscapes" / "text_imdb_cpu.nc"
RUNS = ROOT / "docs" / "data" / "text_runs.nc"
SEED1 = ROOT / "docs" / "data" / "text_runs_seed1.nc"


def _run(ds, n: int, alpha0: float, gamma: float):
    k = np.flatnonzero((ds["n_train"].values == n) & (ds["alpha0"].values == alpha0)
                       & (ds["gamma"].values == gamma))
    assert k.size == 1
    return ds.isel(run=int(k[0]))


def test_the_runs_delays_are_the_files():
    ds = open_trajectories(RUNS)
    assert grok_threshold_of(ds)[0] == 0.6 and ds.attrs["preset"] == "imdb-cpu"
    late = _run(ds, 200, 6.0, 1.0)
    assert (float(late["t_overfit"]), float(late["t_grok"])) == (60.0, 4000.0)
    assert "| 200 | 6, 1 | 60 | 4 000 | **3 940** | 0.635 (0.635) |" in README
    plain = _run(ds, 200, 1.0, 0.0)
    assert float(plain["t_overfit"]) == 154.0 and np.isnan(float(plain["t_grok"]))
    assert float(plain["test_acc"].max()) == pytest.approx(0.556, abs=5e-4)
    base = _run(ds, 1000, 1.0, 0.0)  # the standard-init run the threshold comes from
    assert float(base["test_acc"][-1]) == pytest.approx(0.652, abs=5e-4)
    assert "ends at test accuracy 0.652" in README


def test_the_second_seeds_delay_is_the_files():
    ds = open_trajectories(SEED1)
    assert set(ds["seed"].values.tolist()) == {1}
    late = _run(ds, 200, 6.0, 1.0)
    assert (float(late["t_overfit"]), float(late["t_grok"])) == (60.0, 3242.0)
    assert "reaches 0.6 at 3 242 (delay **3 182**)" in README
    assert np.isnan(float(_run(ds, 200, 1.0, 0.0)["t_grok"]))


def test_the_landscapes_critical_size_is_the_files():
    land = open_landscape(LANDSCAPE)
    crit = critical_n_train(land)
    assert f"N_c = {crit.n_train}" in README
    assert land.attrs["task"] == "text" and land.attrs["preset"] == "imdb-cpu"
