"""A (w, n_train) landscape of a small task end to end through the CLI: probed, saved,
checked on open, summarised, plotted, predicted from, and validated against runs at their
own training-set sizes (issue 10, "Must show")."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from reduced_dynamics.cli.main import main
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories


def test_w_n_train_landscape_from_probe_to_validate(tmp_path, capsys):
    land, runs = tmp_path / "ts.nc", tmp_path / "runs.nc"
    assert main(["probe", "teacher-student", "--alpha", "log:0.3:3:7", "--n-train", "20,100",
                 "--seeds", "1", "--steps", "200", "--threads", "1", "-q",
                 "-o", str(land)]) == 0
    ds = open_landscape(land)  # checked on open
    assert ds["train_loss"].dims == ("w", "n_train")
    assert ds["n_train"].values.tolist() == [20, 100]
    # fewer training samples fit more easily and generalise worse, at every norm
    assert np.all(ds["test_loss"].sel(n_train=20) >= ds["test_loss"].sel(n_train=100))
    capsys.readouterr()

    assert main(["info", str(land)]) == 0
    info = capsys.readouterr().out
    assert "n_train: [20, 100]" in info and "critical data size" in info

    fig = tmp_path / "ts.png"
    assert main(["plot", str(land), "-o", str(fig)]) == 0
    assert fig.stat().st_size > 10_000
    capsys.readouterr()

    assert main(["predict", str(land), "--start", "2", "--gamma", "0.3,1",
                 "--eta-d", "3e-4", "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    text = json.dumps(pred)
    assert "20" in text and "100" in text  # a prediction for each training-set size
    assert main(["predict", str(land), "--start", "2", "--gamma", "0.3,1",
                 "--eta-d", "3e-4", "--n-train", "100"]) == 0
    capsys.readouterr()
    assert main(["predict", str(land), "--start", "2", "--n-train", "50"]) == 2
    assert "50" in capsys.readouterr().err  # not a grid value: refused, values listed

    assert main(["train", "teacher-student", "--gamma", "1", "--alpha0", "2", "--n-train",
                 "20,100", "--steps", "300", "--n-log", "20", "--threads", "1", "-q",
                 "-o", str(runs)]) == 0
    traj = open_trajectories(runs)
    assert traj["n_train"].values.tolist() == [20, 100]
    capsys.readouterr()
    assert main(["validate", str(land), str(runs), "-o", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "exponent" in out
