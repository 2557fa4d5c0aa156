"""Issue 18 item 4: no option without an effect. Options a task or a file cannot use are
refused, with the reason, before any work: one ``error:`` line, status 2, nothing written."""

from __future__ import annotations

import dataclasses

import pytest
from test_adversarial_cli import trajectories
from test_overwrite import cli, one_error, state

from reduced_dynamics.config import RunSet
from reduced_dynamics.errors import InputError
from reduced_dynamics.io.landscape_file import save_landscape
from reduced_dynamics.io.trajectory_file import save_trajectories
from reduced_dynamics.tasks import get_task
from reduced_dynamics.testing.synthetic import synthetic_landscape
from reduced_dynamics.training.sweep import check_runs

MOD = ["train", "modular-addition", "--gamma", "0.1", "--seeds", "1", "--steps", "10",
       "--threads", "1", "-q"]
PROBE = ["probe", "toy-addition", "--alpha", "1,2", "--m", "0", "--steps", "10", "--threads",
         "1", "-q"]
TRAIN = ["train", "toy-addition", "--gamma", "0.1", "--seeds", "1", "--steps", "10",
         "--n-log", "3", "--threads", "1", "-q"]


@pytest.mark.parametrize("option", [["--eta-r", "0.1"], ["--eta-r", "0.1,0.2"],
                                    ["--wd-representation"]])
def test_representation_options_on_a_task_without_one(tmp_path, option):
    rc, _, err = cli([*MOD, *option, "-o", tmp_path / "runs.nc"])
    one_error(rc, err, f"`{option[0]}` has no effect on task 'modular-addition'",
              "no representation", f"drop {option[0]}")
    assert list(tmp_path.iterdir()) == []


def test_representation_options_in_python():
    entry = get_task("modular-addition")
    task = entry.preset(None)
    runs = RunSet.sweep([0.1], [0], [1.0], [0.0])
    with pytest.raises(InputError, match=r"`cfg\.wd_representation` has no effect"):
        check_runs(task, dataclasses.replace(entry.train, wd_representation=True), runs)
    with pytest.raises(InputError, match=r"`runs\.eta_r` has no effect"):
        check_runs(task, entry.train, RunSet.sweep([0.1], [0], [1.0], [0.0],
                                                    eta_rs=[0.1, 0.2]))
    check_runs(task, entry.train, runs)  # the task's own settings pass


def test_representation_options_still_work_with_a_representation(tmp_path):
    rc, _, err = cli([*TRAIN, "--eta-r", "0.01", "--wd-representation", "-o",
                      tmp_path / "runs.nc"])
    assert rc == 0, err


@pytest.mark.parametrize("argv", [PROBE, TRAIN], ids=["probe", "train"])
def test_batch_size_above_the_training_set(tmp_path, argv):
    rc, _, err = cli([*argv, "--batch-size", "100000", "-o", tmp_path / "out.nc"])
    one_error(rc, err, "`--batch-size` must be at most the training-set size", "got 100000")
    assert list(tmp_path.iterdir()) == []
    rc, _, err = cli([*argv, "--n-train", "20,40", "--batch-size", "41", "-o",
                      tmp_path / "out.nc"])
    one_error(rc, err, "(40 examples of the sweep's n_train)", "got 41")


@pytest.mark.parametrize("command", ["probe", "train", "plot"])
def test_output_with_a_trailing_slash_is_a_folder(tmp_path, command):
    argv = (["plot", save_landscape(synthetic_landscape(), tmp_path / "l.nc")]
            if command == "plot" else {"probe": PROBE, "train": TRAIN}[command])
    name = f"{tmp_path / 'name'}/"
    rc, _, err = cli([*argv, "-o", name])
    one_error(rc, err, "ends in '/', so it names a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["l.nc"] if command == "plot"
                                                          else [])


def test_validate_n_train_on_runs_with_their_own_sizes(tmp_path):
    landscape = save_landscape(synthetic_landscape(), tmp_path / "l.nc")
    ds = trajectories(n_runs=4).assign_coords(n_train=("run", [100, 100, 200, 200]))
    runs = save_trajectories(ds, tmp_path / "runs.nc")
    before = state(landscape, runs)
    rc, _, err = cli(["validate", landscape, runs, "-o", tmp_path / "r", "--n-train", "150"])
    one_error(rc, err, "`n_train` (CLI --n-train) = 150", "own training-set sizes [100, 200]")
    # a size of theirs selects those runs (the landscape has no n_train axis: refused so)
    rc, _, err = cli(["validate", landscape, runs, "-o", tmp_path / "r", "--n-train", "100"])
    one_error(rc, err, "n_train")
    assert "own training-set sizes" not in err
    recorded = trajectories(task_config={"name": "synthetic", "n_train": 300})
    runs2 = save_trajectories(recorded, tmp_path / "runs2.nc")
    rc, _, err = cli(["validate", landscape, runs2, "-o", tmp_path / "r", "--n-train", "100"])
    one_error(rc, err, "the runs were trained on 300 examples")
    assert state(landscape, runs) == before and not (tmp_path / "r").exists()


def test_validate_n_train_selects_the_runs_of_that_size():
    from reduced_dynamics.testing.synthetic import synthetic_n_train_landscape
    from reduced_dynamics.validate import validate

    land = synthetic_n_train_landscape()
    sizes = [int(v) for v in land["n_train"].values[:2]]
    ds = trajectories(n_runs=4, task="synthetic-n", preset=land.attrs["preset"])
    ds.attrs.update({k: land.attrs[k] for k in ("task", "preset")})
    ds = ds.assign_coords(n_train=("run", [sizes[0], sizes[0], sizes[1], sizes[1]]))
    report = validate(land, ds, n_train=sizes[1])
    assert list(report["run"].values) == [2, 3]
    assert set(report["n_train"].values.tolist()) == {sizes[1]}
