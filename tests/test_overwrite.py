"""Issue 18 item 1: no command replaces an existing file without `--overwrite`.

Each refusal is one ``error:`` line (status 2) naming the option and what to do, before any
work, and leaves every file as it was (same bytes and mtime)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
from pathlib import Path

import pytest
from test_adversarial_cli import trajectories

from reduced_dynamics.cli.main import main
from reduced_dynamics.errors import InputError
from reduced_dynamics.io.landscape_file import save_landscape
from reduced_dynamics.io.trajectory_file import save_trajectories
from reduced_dynamics.testing.synthetic import synthetic_landscape

PROBE = ["probe", "toy-addition", "--alpha", "1,2", "--m", "0,0.5", "--steps", "10",
         "--threads", "1", "-q"]
TRAIN = ["train", "toy-addition", "--gamma", "0.1", "--seeds", "1", "--steps", "10",
         "--n-log", "3", "--threads", "1", "-q"]


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def one_error(rc: int, err: str, *fragments: str) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def state(*paths: Path) -> list[tuple[bytes, int]]:
    return [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ow")
    return {"landscape": save_landscape(synthetic_landscape(), d / "l.nc"),
            "runs": save_trajectories(trajectories(), d / "runs.nc")}


@pytest.mark.parametrize("argv", [PROBE, TRAIN], ids=["probe", "train"])
def test_sweep_refuses_an_existing_file_of_any_task(tmp_path, files, argv):
    for source in (files["landscape"], files["runs"]):  # another task's landscape, runs
        target = tmp_path / "out.nc"
        target.write_bytes(source.read_bytes())
        before = state(target)
        rc, _, err = cli([*argv, "-o", target])
        one_error(rc, err, "`--output`", "exists", "--overwrite")
        assert state(target) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]  # no lock, no parts


def test_probe_overwrite_replaces_and_resume_onto_finished_says_so(tmp_path):
    out = tmp_path / "l.nc"
    assert cli([*PROBE, "-o", out])[0] == 0
    before = state(out)
    one_error(*cli([*PROBE, "-o", out])[::2], "exists (it is a landscape file of task "
              "'toy-addition')", "--overwrite")
    rc, stdout, _err = cli([*PROBE, "--resume", "-o", out])
    assert rc == 0 and "finished landscape file" in stdout and "nothing to resume" in stdout
    assert state(out) == before  # not recomputed
    assert cli([*PROBE, "--overwrite", "-o", out])[0] == 0
    assert out.stat().st_mtime_ns != before[0][1]


def test_api_refuses_an_existing_output_and_resume_returns_the_finished_file(tmp_path):
    from reduced_dynamics.config import RunSet
    from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape
    from reduced_dynamics.tasks import get_task
    from reduced_dynamics.training.sweep import run_training

    entry = get_task("toy-addition")
    task = entry.preset(None)
    probe = dataclasses.replace(entry.probe_preset(task.preset), steps=10)
    grid = ProbeGrid((1.0, 2.0), (0.0,), (0,))
    out = tmp_path / "l.nc"
    probe_landscape(task, probe, grid, out, progress=False)
    before = state(out)
    with pytest.raises(InputError, match=r"exists .*overwrite=True in Python"):
        probe_landscape(task, probe, grid, out, progress=False)
    ds = probe_landscape(task, probe, grid, out, progress=False, resume=True)
    assert ds.sizes["w"] == 2 and state(out) == before
    runs_out = tmp_path / "runs.nc"
    runs_out.write_bytes(out.read_bytes())
    cfg = dataclasses.replace(entry.train, steps=10, n_log=3)
    with pytest.raises(InputError, match="exists and is not a trajectory file"):
        run_training(task, cfg, RunSet.sweep([0.1], [0], [5.0], [0.1]), runs_out,
                     progress=False)
    assert state(runs_out)[0][0] == before[0][0]


@pytest.mark.parametrize("command", ["plot", "path", "gamma-plot"])
def test_figures_refuse_an_existing_file(tmp_path, files, command):
    fig = tmp_path / "fig.png"
    fig.write_bytes(b"an earlier figure")
    before = state(fig)
    argv = [command, files["landscape"], "-o", fig]
    if command == "path":
        argv += ["--gamma", "1e-5"]
    one_error(*cli(argv)[::2], "`--output`", "fig.png", "exists", "--overwrite")
    assert state(fig) == before
    if command == "plot":
        rc, _out, err = cli([*argv, "--overwrite"])
        assert rc == 0 and fig.read_bytes() != before[0][0], err


def test_validate_refuses_a_folder_holding_its_input_or_an_earlier_report(tmp_path, files):
    report = tmp_path / "report"
    report.mkdir()
    runs = report / "validation.nc"  # today's bug: the input under a report file's name
    runs.write_bytes(files["runs"].read_bytes())
    before = state(runs)
    for extra in ([], ["--overwrite"]):  # never, not even with --overwrite
        one_error(*cli(["validate", files["landscape"], runs, "-o", report, *extra])[::2],
                  "`--output`", "is the input file", "validation.nc")
        assert state(runs) == before
    runs.rename(report / "my_runs.nc")  # an input inside the folder, under another name
    runs = report / "my_runs.nc"
    one_error(*cli(["validate", files["landscape"], runs, "-o", report])[::2],
              "holds the input file", "--overwrite")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "validation.csv").write_text("earlier report")
    before = state(earlier / "validation.csv")
    one_error(*cli(["validate", files["landscape"], files["runs"], "-o", earlier])[::2],
              "already holds report files (validation.csv)", "--overwrite")
    assert state(earlier / "validation.csv") == before
    rc, _, err = cli(["validate", files["landscape"], files["runs"], "-o", earlier,
                      "--overwrite"])
    assert rc == 0, err
    assert (earlier / "validation.csv").read_text() != "earlier report"
    assert sorted(os.listdir(earlier)) == ["paths.png", "t_grok_vs_gamma.png",
                                           "validation.csv", "validation.nc"]
