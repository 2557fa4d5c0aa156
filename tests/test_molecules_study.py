"""Numbers the README's molecules section (issue 22) quotes, read back from the committed
files: the runs' grokking steps at the stored threshold, the norms, the landscape's N_c
and the probe check at large α."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from reduced_dynamics.engine.parameters import critical_n_train, select_n_train
from reduced_dynamics.engine.thresholds import grok_threshold_of, grok_times
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "data"
README = " ".join((ROOT / "README.md").read_text().split())
SECTION = README[README.index("## Molecules: a graph network on QM9"):
                 README.index("## Adding a task")]


def _steps(path: Path) -> dict[tuple[float, float], float]:
    ds = open_trajectories(path)
    value, on, _ = grok_threshold_of(ds)
    assert (value, on) == (0.5, "loss")
    t = grok_times(ds["step"].values, ds["test_acc"].values, ds["test_loss"].values, value, on)
    return {(float(a), float(g)): float(x) for a, g, x in
            zip(ds["alpha0"].values, ds["gamma"].values, t)}


def _num(text: str) -> float:
    return float(text.replace(" ", ""))


def test_the_table_of_runs():
    t = {**_steps(DATA / "molecules_gamma0.nc"), **_steps(DATA / "molecules_gamma.nc")}
    rows = re.findall(r"\| α0 = (\d), γ = ([\d.]+) \| \**([\d ]+?)\** \| ([\d ]+) \|", SECTION)
    assert len(rows) == 4
    for a0, g, grok, _ in rows:
        assert t[(float(a0), float(g))] == _num(grok), (a0, g)
    assert t[(3.0, 0.0)] > 10 * t[(1.0, 0.0)]  # the delay without weight decay


def test_the_norm_grows_without_weight_decay():
    ds = open_trajectories(DATA / "molecules_gamma0.nc")
    for r, quoted in ((0, 1.596), (1, 3.143)):
        x = ds.isel(run=r)
        end = float(x["alpha0"]) * x["w"].values[-1] / x["w"].values[0]
        assert round(end, 3) == quoted
        assert f"{quoted}" in SECTION


def test_landscape_critical_size_and_the_large_alpha_probe():
    land = open_landscape(ROOT / "landscapes" / "molecules_cpu.nc")
    assert critical_n_train(land).n_train == 30 and "N_c = 30" in SECTION
    long = open_landscape(DATA / "molecules_probe_long.nc")
    base = select_n_train(land, 200)
    k = int(np.argmin(np.abs(base["alpha"].values - 3.1623)))
    assert round(float(base["train_loss"][k])) == 242
    assert float(long["train_loss"].isel(w=1).values.ravel()[0]) == pytest.approx(0.249,
                                                                                  abs=5e-4)
    assert "from 242 to 0.249" in SECTION


def test_critical_size_from_runs():
    t = open_trajectories(DATA / "molecules_sizes.nc")
    value, on, _ = grok_threshold_of(t)
    steps = grok_times(t["step"].values, t["test_acc"].values, t["test_loss"].values, value, on)
    reached = sorted(int(n) for n, s in zip(t["n_train"].values, steps) if np.isfinite(s))
    assert reached[0] == 100 and "N_c = 100" in SECTION


def test_the_long_n200_slice_predicts_no_grokking_at_gamma_0():
    import warnings

    from reduced_dynamics import predict_grokking_times
    from reduced_dynamics.study import UnconvergedStartWarning

    land = open_landscape(DATA / "molecules_n200_long.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedStartWarning)
        pred = predict_grokking_times(land, gamma=[0.0, 0.1, 0.3], eta_d=1e-3, start=3.0,
                                      n_train=200)
    status = [str(v) for v in pred["status"].values.ravel()]
    t = pred["t_grok"].values.ravel()
    assert status[0] == "no_grok_before_t_max" and not np.isfinite(t[0])
    assert [round(float(v)) for v in t[1:]] == [9111, 3039]
    assert "9 111 and 3 039 steps at γ = 0.1 and 0.3" in SECTION
