"""Adversarial input against the CLI (issue 9, items 4-6; issue 10, item 6, plots).

Each class of input that used to end in a traceback, a hang or a silently wrong result now
gives one `error:` line and exit status 2, or a correct result; a hypothesis search over the
argument space of every command finds no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import assert_one_error
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reduced_dynamics.cli.main import main
from reduced_dynamics.engine import driver
from reduced_dynamics.engine.predict import analyze_path, integrate, predict_grokking_times
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.engine.solve import kernels_compiled
from reduced_dynamics.errors import FileCheckError, InputError, WriteError
from reduced_dynamics.executors import executor_for
from reduced_dynamics.io.atomic import write_atomic, write_csv, write_figure
from reduced_dynamics.io.landscape_file import open_landscape, save_landscape
from reduced_dynamics.io.resources import default_landscape
from reduced_dynamics.io.schema import provenance_attrs
from reduced_dynamics.io.trajectory_file import save_trajectories
from reduced_dynamics.landscape.sweep import seeds_from_spec
from reduced_dynamics.study import study_defaults, values_text
from reduced_dynamics.tasks import REGISTRY, get_task
from reduced_dynamics.testing.synthetic import synthetic_landscape
from reduced_dynamics.validate import config_differences, validate

ROOT = Path(__file__).resolve().parents[1]
GAMMAS = "1e-5,2e-5,4e-5"  # grok on the synthetic landscape from its default start
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`main(argv)` with stdout and stderr captured; argparse's own exit becomes its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse: unknown flag, missing value, --help, --version
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, out.getvalue(), err.getvalue()




def trajectories(*, task: str = "synthetic", preset: str = "lu", task_config: dict | None = None,
                 n_runs: int = 3) -> xr.Dataset:
    """A small checked trajectory Dataset (runs from alpha0 = 30, m0 = 0.05)."""
    step = np.array([0, 1, 10, 100, 1000, 10_000])
    shape = (n_runs, step.size)
    decay = np.exp(-1e-4 * step)[None, :] * np.ones(shape)
    acc = np.clip(np.linspace(0, 1, step.size)[None, :] * np.ones(shape), 0, 1)
    data = {"w": (("run", "step"), 420.0 * decay), "m": (("run", "step"), 0.05 * decay),
            "residual": (("run", "step"), np.zeros(shape)),
            "train_loss": (("run", "step"), 0.1 * decay), "test_loss": (("run", "step"), decay),
            "train_acc": (("run", "step"), acc), "test_acc": (("run", "step"), acc),
            "t_overfit": ("run", np.full(n_runs, 100.0)), "t_grok": ("run", np.full(n_runs, 1e4))}
    coords = {"run": np.arange(n_runs), "step": step,
              "gamma": ("run", np.geomspace(1e-5, 4e-5, n_runs)),
              "eta_d": ("run", np.full(n_runs, 1e-3)), "eta_r": ("run", np.full(n_runs, 1e-3)),
              "seed": ("run", np.arange(n_runs)), "alpha0": ("run", np.full(n_runs, 30.0)),
              "m0": ("run", np.full(n_runs, 0.05))}
    config = {"task": task_config} if task_config is not None else {}
    attrs = provenance_attrs("trajectory", title="test runs", task=task, preset=preset,
                             config=config, w0=14.0, history="test", torch_version="none")
    return xr.Dataset(data, coords=coords, attrs=attrs)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Good and bad input files, and a folder, shared by the tests of this module."""
    d = tmp_path_factory.mktemp("adv")
    one_d = synthetic_landscape().isel(m=0).drop_vars(["m", "dtrain_dm"])
    bad_values = synthetic_landscape()
    bad_values["train_loss"][0, 0] = -1.0
    paths = {
        "landscape": save_landscape(synthetic_landscape(), d / "l.nc"),
        "landscape_1d": save_landscape(one_d, d / "l1.nc"),
        "runs": save_trajectories(trajectories(), d / "runs.nc"),
        "runs_other": save_trajectories(trajectories(preset="other"), d / "runs_other.nc"),
        "folder": d / "folder",
        "garbage": d / "garbage.nc",
        "empty": d / "empty.nc",
        "bad_values": d / "bad_values.nc",
        "missing": d / "missing.nc",
        "out": d / "out",
    }
    paths["folder"].mkdir()
    paths["out"].mkdir()
    paths["garbage"].write_bytes(b"\x89HDF\r\n\x1a\n not really")
    paths["empty"].write_bytes(b"")
    bad_values.to_netcdf(paths["bad_values"])  # bypasses the checks of save_landscape
    return {k: str(v) for k, v in paths.items()}


# ---------------------------------------------------------------- 4. one error path
@pytest.mark.parametrize("command", ["plot", "path", "gamma-plot", "validate"])
def test_output_paths_that_cannot_be_written_are_refused_before_any_work(files, command,
                                                                         tmp_path):
    inputs = ([files["landscape"], files["runs"]] if command == "validate"
              else [files["landscape"]])
    extra = ["--gamma", "2e-5"] if command == "path" else []
    extra += ["--gamma", GAMMAS] if command == "gamma-plot" else []
    # a folder where a file belongs (or a file where the report folder belongs)
    target = files["landscape"] if command == "validate" else files["folder"]
    rc, _, err = run_cli([command, *inputs, *extra, "-o", target])
    assert_one_error(rc, err, "`--output`", "existing")
    # a path through a file
    rc, _, err = run_cli([command, *inputs, *extra, "-o",
                          os.path.join(files["landscape"], "x.png")])
    assert_one_error(rc, err, "`--output`", "is a file, not a folder")
    # a missing folder: the report folder of validate is created with its missing parents
    # (as mkdir -p) and the report is complete; a figure, like probe/train's files, needs
    # its folder to exist (`io.lock.check_output`) and nothing is created
    out = tmp_path / "new" / "deeper" / ("report" if command == "validate" else "f.png")
    rc, _, err = run_cli([command, *inputs, *extra, "-o", str(out)])
    if command == "validate":
        assert rc == 0, err
        assert (out / "validation.csv").is_file()
    else:
        assert_one_error(rc, err, "`--output`", "does not exist")
        assert list(tmp_path.iterdir()) == []
        out.parent.mkdir(parents=True)
        rc, _, err = run_cli([command, *inputs, *extra, "-o", str(out)])
        assert rc == 0, err
        assert out.is_file()


@pytest.mark.skipif(IS_ROOT, reason="root may write into a read-only folder")
def test_an_unwritable_folder_is_refused(files, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        rc, _, err = run_cli(["plot", files["landscape"], "-o", str(ro / "f.png")])
        assert_one_error(rc, err, "is not writable")
    finally:
        ro.chmod(stat.S_IRWXU)


def test_an_unwritable_folder_is_refused_whoever_runs_the_tests(files, tmp_path, monkeypatch):
    """As above, with the permission answer simulated (root may write anywhere)."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: (Path(p) != tmp_path
                                                       and real_access(p, mode)))
    for argv in (["plot", files["landscape"]], ["gamma-plot", files["landscape"], "--gamma",
                                                GAMMAS]):
        rc, _, err = run_cli([*argv, "-o", str(tmp_path / "f.png")])
        assert_one_error(rc, err, f"the folder '{tmp_path}' is not writable")
    rc, _, err = run_cli(["validate", files["landscape"], files["runs"], "-o",
                          str(tmp_path / "report")])
    assert_one_error(rc, err, "is not writable")
    assert list(tmp_path.iterdir()) == []


def test_plot_refuses_to_overwrite_its_input(files, tmp_path):
    src = tmp_path / "landscape.png"  # a landscape file with an image suffix
    src.write_bytes(Path(files["landscape"]).read_bytes())
    rc, _, err = run_cli(["plot", str(src), "-o", str(src)])
    assert_one_error(rc, err, "is the input file")
    assert open_landscape(src).sizes["w"] == 31  # untouched


@pytest.mark.parametrize("address", ["foo", "tcp://", "http://host:8786", "tcp://localhost",
                                     "tcp://localhost:99999", "inproc://x", "tcp://a b:1",
                                     "::::", ""])
def test_scheduler_strings_that_are_not_addresses(address):
    pytest.importorskip("distributed")
    t0 = time.monotonic()
    with pytest.raises(InputError, match="`--scheduler` must be a dask scheduler address"), \
            executor_for(address):
        pass
    assert time.monotonic() - t0 < 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_port_fails_at_once_with_what_was_there():
    pytest.importorskip("distributed")
    t0 = time.monotonic()
    with pytest.raises(InputError, match=r"nothing is listening at 127\.0\.0\.1:\d+ "
                                         r"\(connection refused\)"), \
            executor_for(f"tcp://127.0.0.1:{_free_port()}", connect_timeout=3.0):
        pass
    assert time.monotonic() - t0 < 3.0  # today: 32 s


def test_a_silent_server_is_not_taken_for_a_scheduler():
    """A plain TCP server that accepts and says nothing (today: an endless hang)."""
    pytest.importorskip("distributed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    t0 = time.monotonic()
    try:
        with pytest.raises(InputError, match="accepted the connection but did not answer as "
                                             "a dask scheduler within 1 s"), \
                executor_for(f"127.0.0.1:{port}", connect_timeout=1.0):
            pass
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    assert accepted and time.monotonic() - t0 < 4.0


def test_a_dask_worker_is_named_as_what_it_is():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", dashboard_address=None) as cluster:
        worker = next(iter(cluster.scheduler.workers))
        with pytest.raises(InputError, match="is a dask Worker, not a scheduler"), \
                executor_for(worker, connect_timeout=2.0):
            pass
        with executor_for(cluster.scheduler_address, connect_timeout=2.0) as executor:
            assert executor.remote and executor.slots == 1


def test_cli_scheduler_errors_are_one_line(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("distributed")
    out = str(tmp_path / "x.nc")
    for address, fragment in (("foo", "missing port number"),
                              (f"tcp://127.0.0.1:{_free_port()}", "connection refused")):
        rc, _, err = run_cli(["probe", "toy-addition", "--alpha", "1", "--m", "0", "--steps",
                              "10", "-q", "--scheduler", address, "-o", out])
        assert_one_error(rc, err, fragment)
    assert list(tmp_path.iterdir()) == []  # nothing left behind


@pytest.mark.parametrize(("gamma", "fragment"), [
    ("lin:0.1:1:10000000", "asks for 10000000 values in 'lin:0.1:1:10000000'; at most 100000"),
    (",".join(["0.1"] * 100_001), "asks for 100001 values"),
    ("log:1e-5:1e-3:5000", "5000 paths would need about 11.2 GiB (limit 2 GiB"),
])
def test_huge_gamma_lists_are_refused_before_allocating(files, gamma, fragment):
    t0 = time.monotonic()
    rc, _, err = run_cli(["predict", files["landscape"], "--gamma", gamma])
    assert_one_error(rc, err, fragment)
    assert time.monotonic() - t0 < 5.0


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--gamma", "1e300", "--eta-d", "1e10"], "`eta_d` x `gamma` = 1e+10 x 1e+300 overflows"),
    (["--gamma", "1e-300", "--eta-d", "1e-300"], "t_max = 20 ln(w_max/w_min) / (eta_d gamma)"),
    (["--gamma", GAMMAS, "--max-steps", "99999999999999999999999"], "`max_steps` must be an "
     "integer in [1, 4.61e+18]"),
    (["--gamma", "lin:-1e308:1e308:3"], "`--gamma` must be finite numbers"),
    (["--gamma", "log:1:1e400:3"], "START and STOP must be finite"),
])
def test_rates_and_options_that_overflow_are_refused(files, argv, fragment):
    rc, _, err = run_cli(["predict", files["landscape"], *argv])
    assert_one_error(rc, err, fragment)


def test_an_overflowing_path_ends_with_status_overflow(files):
    """`predict --gamma 0.1,1e300` ended in an IndexError: the kernel divided by a zero
    starting step inside a parallel loop, which left the path's status unset."""
    rc, out, err = run_cli(["predict", files["landscape"], "--gamma", "2e-5,1e300"])
    assert rc == 0, err
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(
        ("ok", "overflow", "left_domain", "max_steps", "no_grok_before_t_max"))]
    assert [r[-1] for r in rows] == ["ok", "overflow"]
    # no grokking, no closed or geometric form for a path that never moved (t_overfit is 0
    # when the start already overfits)
    assert rows[1][2:6] == ["-"] * 4
    assert err.count("warning:") == 1 and "1 path(s) overflowed" in err and "1e+300" in err
    # the API: a defined status code in batches (parallel kernel) and alone (serial)
    for gammas in ([1e300], [2e-5, 1e300, 3e-5]):
        res = integrate(files["landscape"], [(30.0, 0.05)], gamma=gammas, eta_d=1e-3)
        status = res["status"].values.ravel()
        big = np.asarray(gammas) == 1e300
        assert list(status[big]) == ["overflow"] * int(big.sum())
        assert "overflow" not in set(status[~big])
        assert int(res["status_code"].values.ravel()[big][0]) == driver.OVERFLOW
        assert res["status_code"].attrs["flag_meanings"].split()[driver.OVERFLOW] == "overflow"
    one = analyze_path(files["landscape"], 1e300, 1e-3, 1e-3, (30.0, 0.05))
    assert one["status"].item() == "overflow" and np.isnan(float(one["t_closed"]))


# ------------------------------------------------------- 5. impossible landscapes
def _mutate(name: str) -> xr.Dataset:
    ds = synthetic_landscape()
    if name == "negative_loss":
        ds["test_loss"][3, 2] = -0.5
    elif name == "acc_above_1":
        ds["test_acc"][0, 0] = 1.5
    elif name == "acc_below_0":
        ds["train_acc"][4, 1] = -0.1
    elif name == "alpha_not_w_over_w0":
        ds = ds.assign_coords(alpha=ds["alpha"] * 2)
    else:  # w0 values
        ds.attrs["w0"] = {"w0_zero": 0.0, "w0_negative": -14.0, "w0_nan": float("nan"),
                          "w0_inf": float("inf")}[name]
    return ds


@pytest.mark.parametrize(("name", "fragment"), [
    ("negative_loss", "`test_loss` must be >= 0 (a loss), got -0.5"),
    ("acc_above_1", "`test_acc` must be in [0, 1] (an accuracy), got 1.5"),
    ("acc_below_0", "`train_acc` must be in [0, 1] (an accuracy), got -0.1"),
    ("w0_zero", "`w0` (the decoder norm at init) must be a finite number > 0, got 0.0"),
    ("w0_negative", "must be a finite number > 0, got -14.0"),
    ("w0_nan", "must be a finite number > 0, got nan"),
    ("w0_inf", "must be a finite number > 0, got inf"),
    ("alpha_not_w_over_w0", "coordinate `alpha` must be w / w0"),
])
def test_landscapes_that_cannot_be_right_are_refused(name, fragment, tmp_path):
    path = tmp_path / f"{name}.nc"
    _mutate(name).to_netcdf(path)
    with pytest.raises(FileCheckError) as info:
        open_landscape(path)
    assert fragment in str(info.value) and str(path) in str(info.value)
    for argv in (["info", str(path)], ["predict", str(path), "--gamma", GAMMAS]):
        rc, _, err = run_cli(argv)
        assert_one_error(rc, err, fragment)
    with pytest.raises(FileCheckError):
        save_landscape(_mutate(name), tmp_path / "never.nc")
    assert not (tmp_path / "never.nc").exists()


def test_validate_refuses_runs_of_another_task_or_config(files, tmp_path):
    toy = {"p": 10, "modular": False, "hidden": [200, 200]}
    landscape = synthetic_landscape().assign_attrs(
        task="toy-addition", preset="paper", config_json=json.dumps({"task": toy}))
    other = {"p": 7, "modular": False, "hidden": [200, 100], "extra": 1}
    runs = trajectories(task="toy-addition", preset="notebook", task_config=other)
    diffs = config_differences(landscape, runs)
    assert diffs == ["preset: landscape 'paper', runs 'notebook'",
                     "task config `extra`: landscape (absent), runs 1",
                     "task config `hidden`: landscape [200, 200], runs [200, 100]",
                     "task config `p`: landscape 10, runs 7"]
    with pytest.raises(InputError, match="different tasks or configs"):
        validate(landscape, runs)
    save_landscape(landscape, tmp_path / "l.nc")
    save_trajectories(runs, tmp_path / "runs.nc")
    rc, _, err = run_cli(["validate", str(tmp_path / "l.nc"), str(tmp_path / "runs.nc"), "-o",
                          str(tmp_path / "report")])
    assert_one_error(rc, err, *diffs)
    assert not (tmp_path / "report").exists()
    # another task entirely; and the same task and config pass
    rc, _, err = run_cli(["validate", files["landscape"], files["runs_other"], "-o",
                          str(tmp_path / "r2")])
    assert_one_error(rc, err, "preset: landscape 'lu', runs 'other'")
    same = trajectories(task="toy-addition", preset="paper", task_config=dict(toy))
    assert config_differences(landscape, same) == []


# -------------------------------------------------------------- 6. rough edges
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_we_write_respect_the_umask(mask, tmp_path):
    from matplotlib.figure import Figure

    old = os.umask(mask)
    try:
        paths = [write_atomic(synthetic_landscape(), tmp_path / "l.nc"),
                 write_csv(trajectories().to_dataframe(), tmp_path / "t.csv")]
        fig = Figure()
        fig.subplots().plot([0, 1])
        paths.append(write_figure(fig, tmp_path / "f.png"))
    finally:
        os.umask(old)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "l.nc", "t.csv"]


def test_a_failed_figure_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(b"previous")

    class Broken:
        def savefig(self, target, **kwargs):
            Path(target).write_bytes(b"partial")
            raise OSError(28, "No space left on device")

    with pytest.raises(WriteError, match="No space left on device; the previous file is intact"):
        write_figure(Broken(), path)
    assert path.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["f.png"]


@pytest.mark.parametrize("command", ["probe", "train"])
def test_probe_and_train_without_torch_say_how_to_install_it(command, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    grid = ["--alpha", "1", "--m", "0"] if command == "probe" else ["--gamma", "0.1"]
    rc, _, err = run_cli([command, "toy-addition", *grid, "-o", str(tmp_path / "x.nc")])
    assert_one_error(rc, err, f"`{command}` needs torch", "pip install torch==2.13.0",
                     'pip install ".[torch]" in the reduced_dynamics source folder')
    assert "reduced-dynamics[torch]" not in err  # not a package on PyPI
    assert list(tmp_path.iterdir()) == []


def _help(command: str) -> str:
    rc, out, _ = run_cli([command, "--help"])
    assert rc == 0
    return re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(out.split()))  # argparse wraps at "-"


def test_help_states_the_real_defaults():
    """The help of predict/path/gamma-plot lists each task's study start and γ list, and
    those are what the commands use (checked on the shipped toy-addition landscape)."""
    prep = prepare_landscape(default_landscape())
    entry = get_task(prep.dataset.attrs["task"])
    d = study_defaults(prep)
    start, gammas = d.start, np.asarray(d.gammas)
    np.testing.assert_allclose(start, [entry.alpha0[0], entry.m0])
    for command in ("predict", "path", "gamma-plot"):
        text = _help(command)
        for e in REGISTRY.values():
            # a task without m (a 1-D landscape) takes `--start ALPHA` alone
            start_text = f"{e.alpha0[0]:g},{e.m0:g}" if e.has_m else f"{e.alpha0[0]:g}"
            assert re.search(rf"{re.escape(e.name)} {re.escape(start_text)}(?![,\d.])", text)
            assert f"{e.name} {e.train.eta_d:g}" in text
            if command != "path":
                assert f"{e.name} {values_text(e.gammas)}" in text
        assert f"{entry.name} {start[0]:g},{start[1]:g}" in text
    assert f"toy-addition {gammas[3]:.3g}" in _help("path")
    rc, out, _ = run_cli(["predict", "--gamma", ",".join(map(repr, entry.gammas)), "--json"])
    assert rc == 0
    res = json.loads(out)
    assert res["start"] == {"alpha": start[0], "m": start[1]}
    np.testing.assert_allclose([r["gamma"] for r in res["rows"]], gammas)


def test_a_seed_count_starts_at_the_tasks_first_valid_seed(tmp_path):
    assert get_task("teacher-student").first_seed == 1
    assert get_task("toy-addition").first_seed == 0
    assert seeds_from_spec("3", get_task("teacher-student").first_seed) == (1, 2, 3)
    assert seeds_from_spec("3", get_task("toy-addition").first_seed) == (0, 1, 2)
    assert seeds_from_spec("0,5", 1) == (0, 5)  # a list is taken as it is
    with pytest.raises(InputError, match="as a count must be <= 10000"):
        seeds_from_spec("99999999999999999999", 1)
    pytest.importorskip("torch")
    out = tmp_path / "ts.nc"  # used to fail: seed 0 is the teacher
    rc, _, err = run_cli(["train", "teacher-student", "--gamma", "0.1", "--seeds", "2",
                          "--steps", "10", "--n-log", "3", "--threads", "1", "-q", "-o",
                          str(out)])
    assert rc == 0, err
    rc, text, err = run_cli(["info", str(out)])
    assert rc == 0, err
    assert "trajectories" in text and "runs: 2" in text
    assert [line.split()[1] for line in text.splitlines()[-3:-1]] == ["1", "2"]


def test_info_summarises_trajectory_files(tmp_path):
    path = save_trajectories(trajectories(n_runs=30), tmp_path / "runs.nc")
    rc, out, err = run_cli(["info", str(path)])
    assert rc == 0, err
    assert out.startswith(f"trajectories {path}")
    assert "task: synthetic  preset: lu" in out and "runs: 30  logged steps: 6, 0 .. 10000" in out
    assert "grokked (test_acc >= 0.95): 30 of 30 runs" in out
    assert "... and 6 more run(s)" in out
    # columns: the run, then what differs between runs (gamma, seed); the rest on one line
    assert "  same for every run: alpha0 30, m0 0.05, eta_d 0.001, eta_r 0.001" in out
    row = next(line for line in out.splitlines() if line.split()[:1] == ["0"])
    assert row.split()[:5] == ["0", "1e-05", "0", "100", "1e+04"]


def test_info_counts_and_marks_diverged_runs(tmp_path):
    from reduced_dynamics.cli.info import summarize_trajectories
    from reduced_dynamics.names import RunStatus

    ds = trajectories()
    status = np.zeros(ds.sizes["run"], np.int8)
    status[1] = RunStatus.DIVERGED
    ds["status"] = ("run", status)
    ds["diverged_step"] = ("run", np.where(status == RunStatus.DIVERGED, 5.0, np.nan))
    lines = summarize_trajectories(ds, "runs.nc").splitlines()
    assert "  diverged: 1 of 3 runs (values NaN from their diverged_step on; marked below)" \
        in lines
    marked = [line for line in lines if line.endswith("diverged at step 5")]
    assert len(marked) == 1 and marked[0].split()[:3] == ["1", "2e-05", "1"]


def test_version():
    from reduced_dynamics.io.schema import package_version

    rc, out, _ = run_cli(["--version"])
    assert rc == 0 and out.strip() == f"reduced-dynamics {package_version()}"


def test_predict_warns_when_the_start_lies_where_the_probe_did_not_converge(tmp_path):
    ds = synthetic_landscape()
    ds["converged"] = ds["converged"] & (ds["alpha"] < 40)
    path = str(save_landscape(ds, tmp_path / "l.nc"))
    rc, _, err = run_cli(["predict", path, "--gamma", GAMMAS, "--start", "50,0.05"])
    assert rc == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "unconverged region" in warnings[0], err
    assert "alpha=50, m=0.05" in warnings[0] and "alpha=50.1 m=0.04" in warnings[0]
    assert "alpha=39.8" not in warnings[0]  # the converged corner of the cell
    rc, _, err = run_cli(["predict", path, "--gamma", GAMMAS, "--start", "30,0.05"])
    assert rc == 0 and "warning:" not in err  # nodes 25.1 and 31.6 converged


@pytest.mark.parametrize(("name", "written", "magic", "note"), [
    ("fig", "fig.png", b"\x89PNG", "(added .png"),
    ("fig.pdf", "fig.pdf", b"%PDF", None),
    ("fig.SVG", "fig.SVG", b"<?xml", None),
    ("fig.data", "fig.data.png", b"\x89PNG", "(added .png"),
])
def test_figure_names(files, tmp_path, name, written, magic, note):
    rc, out, err = run_cli(["gamma-plot", files["landscape"], "--gamma", GAMMAS, "-o",
                            str(tmp_path / name)])
    assert rc == 0, err
    assert [p.name for p in tmp_path.iterdir()] == [written]  # and no temporary file
    assert (tmp_path / written).read_bytes().startswith(magic)
    assert f"wrote {tmp_path / written}" in out
    assert (note in out) if note else "(added" not in out


def test_the_first_compile_is_announced(files, tmp_path, monkeypatch):
    # a cold cache (an empty NUMBA_CACHE_DIR) is detected without compiling anything
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_DISABLE_JIT", None)
    code = ("from reduced_dynamics.engine.solve import kernels_compiled; "
            "print(kernels_compiled(1), kernels_compiled(2))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.stdout.split() == ["False", "False"], proc.stderr
    # warm once every kernel has run here (and so been cached)
    predict_grokking_times(files["landscape"], [2e-5, 4e-5], start=(30.0, 0.05))
    analyze_path(files["landscape"], 2e-5, start=(30.0, 0.05))
    if os.environ.get("NUMBA_DISABLE_JIT") != "1":
        assert kernels_compiled(1) and kernels_compiled(2)
    import reduced_dynamics.cli.arguments as cli_arguments

    for cold in (True, False):
        monkeypatch.setattr(cli_arguments, "kernels_compiled", lambda n, cold=cold: not cold)
        rc, _, err = run_cli(["predict", files["landscape"], "--gamma", GAMMAS])
        assert rc == 0
        assert ("compiling the integrator (first use after install" in err) == cold


def test_plot_functions_return_figures_and_leave_the_backend_alone(files):
    """No pyplot, no `matplotlib.use`: a notebook's backend (here svg) stays; the functions
    draw into the axes or figure they are given."""
    code = f"""
import sys, matplotlib
matplotlib.use("svg")
from matplotlib.figure import Figure
from reduced_dynamics.engine.predict import analyze_path, predict_grokking_times
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.errors import InputError
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.plot.landscape import plot_landscape, plot_t_grok_vs_gamma
from reduced_dynamics.plot.landscape import plot_validation_paths
from reduced_dynamics.plot.predictions import plot_gamma, plot_path
from reduced_dynamics.validate import validate
prep = prepare_landscape({files["landscape"]!r})
fig = plot_landscape(prep.dataset)
assert isinstance(fig, Figure) and len(fig.axes) == 5  # 3 panels + 2 colorbars
target = Figure(); ax = target.subplots()
assert plot_landscape(open_landscape({files["landscape_1d"]!r}), ax=ax) is target
# train and test curves and the boundary line (`plot_curves`; no unconverged points here)
assert [l.get_label() for l in ax.lines] == ["train (L)", "test (U)", "train loss = 0.05"]
try:
    plot_landscape(prep.dataset, ax=ax)
    raise SystemExit("ax= accepted for three panels")
except InputError:
    pass
pred = predict_grokking_times(prep, [1e-5, 2e-5, 4e-5], start=(30.0, 0.05))
target = Figure(); ax = target.subplots()
assert plot_gamma(pred, ax=ax) is target and len(ax.lines) >= 3
target = Figure()
assert plot_path(prep, analyze_path(prep, 2e-5, start=(30.0, 0.05)), fig=target) is target
report = validate(prep, {files["runs"]!r})
target = Figure(); ax = target.subplots()
assert plot_t_grok_vs_gamma(report, ax=ax) is target
assert isinstance(plot_validation_paths(report, prep.dataset), Figure)
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["svg", "False"]


# ------------------------------------------------- the whole argument space
NASTY_NUMBERS = ["0", "-0", "1", "0.5", "2e-5", "30", "-1", "inf", "-inf", "nan", "1e308",
                 "1e309", "-1e308", "1e-320", "99999999999999999999", "0x10", "1_0", "",
                 " ", "abc", "1,2", "5,0.1"]
PLAUSIBLE_NUMBERS = ["1e-5", "2e-5", "4e-5", "1e-3", "0.05", "0.95", "1e-6", "1e-9", "3", "30",
                     "1000", "30,0.05", "5,0.2"]
numbers = st.one_of(st.sampled_from(NASTY_NUMBERS), st.sampled_from(PLAUSIBLE_NUMBERS),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.integers(-10**25, 10**25).map(str))
small_counts = st.one_of(st.integers(-3, 12).map(str),
                         st.sampled_from(["0", "100001", "10000000", "1e3", "x"]))
grids = st.one_of(
    numbers,
    st.lists(numbers, min_size=1, max_size=4).map(",".join),
    st.builds(lambda k, a, b, n: f"{k}:{a}:{b}:{n}",
              st.sampled_from(["lin", "log", "quad", "cubic", ""]), numbers, numbers,
              small_counts),
    st.sampled_from([":::", "log:0:1:3", "lin:1:2", ",", "1e-5,2e-5,4e-5", "log:1e-5:1e-4:3",
                     "0,1e-5", "lin:0:1e-4:4"]),
)


def _engine_options(draw, gamma_kind: str) -> list[str]:
    argv = []
    options = {
        "--eta-d": numbers, "--eta-r": numbers, "--theta-train": numbers,
        "--acc-threshold": numbers, "--theta-test": numbers, "--t-max": numbers,
        "--rtol": numbers, "--atol": numbers, "--smoothing": numbers,
        "--max-steps": st.one_of(small_counts, st.integers(-10**25, 10**25).map(str)),
        "--start": st.one_of(st.builds(lambda a, m: f"{a},{m}", numbers, numbers), numbers),
        "--transform": st.sampled_from(["log", "linear", "cubic"]),
        "--grok-on": st.sampled_from(["acc", "loss"]),
        "--gamma": numbers if gamma_kind == "one" else grids,
    }
    for flag in draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True)):
        argv += [flag, draw(options[flag])]
    argv += draw(st.sampled_from([[], ["--monotone"]]))
    return argv


@st.composite
def command_lines(draw, files: dict[str, str]) -> list[str]:
    """An argument list for one command, from plausible and nasty tokens."""
    inputs = st.sampled_from([files[k] for k in ("landscape", "landscape", "landscape",
                                                 "landscape_1d", "landscape_1d", "runs",
                                                 "folder", "garbage", "empty", "bad_values",
                                                 "missing")])
    out = files["out"]
    outputs = st.sampled_from([os.path.join(out, "f.png"), os.path.join(out, "f"),
                               os.path.join(out, "new", "f.pdf"), out, files["landscape"],
                               os.path.join(files["landscape"], "f.png"),
                               os.path.join(out, "f.xyz"), "", os.path.join(out, "x" * 300)])
    command = draw(st.sampled_from(["predict", "predict", "predict", "path", "gamma-plot",
                                    "info", "plot", "validate", "probe", "train"]))
    if command == "predict":
        return ["predict", draw(inputs), *_engine_options(draw, "list"),
                *draw(st.sampled_from([[], ["--json"]]))]
    if command in ("path", "gamma-plot"):
        kind = "one" if command == "path" else "list"
        return [command, draw(inputs), *_engine_options(draw, kind), "-o", draw(outputs)]
    if command == "info":
        return ["info", draw(inputs)]
    if command == "plot":
        return ["plot", draw(inputs), "--boundary", draw(numbers), "-o", draw(outputs)]
    if command == "validate":
        runs = st.sampled_from([files["runs"], files["runs_other"], files["landscape"],
                                files["garbage"], files["missing"]])
        return ["validate", draw(inputs), draw(runs), "-o", draw(outputs)]
    # probe / train: tiny, and always one argument that must fail fast
    bad = draw(st.sampled_from([
        ["--scheduler", "foo"], ["--scheduler", "http://h:1"], ["--scheduler", ""],
        ["--scheduler", f"tcp://127.0.0.1:{_free_port()}"], ["--workers", "0"],
        ["--seeds", "99999999999999999999"], ["--seeds", "x"], ["--seeds", "0"],
        ["--chunk-size", "0"], ["--threads", "0"], ["-o", out],
        ["-o", os.path.join(files["landscape"], "x.nc")],
    ] + ([["--alpha", "lin:1:2:99999999"], ["--m", "log:0:1:3"], ["--m", "0,2"],
          ["--alpha", "nan"]] if command == "probe" else
         [["--gamma", "lin:0:1:10000000"], ["--gamma", "-1"], ["--m0", "2"],
          ["--alpha0", "nan"]])))
    base = (["probe", "toy-addition", "--alpha", "0.5,1", "--m", "0", "--steps", "10"]
            if command == "probe" else
            ["train", "toy-addition", "--gamma", "0.1", "--steps", "10", "--n-log", "3"])
    argv = [*base, "-q", "-o", os.path.join(out, "never.nc")]
    if bad[0] in argv:  # replace the tiny value
        i = argv.index(bad[0])
        argv[i + 1] = bad[1]
    else:
        argv += bad
    return argv


@pytest.fixture(scope="module")
def warm(files) -> None:
    """Compile the integrator (once per install) before the timed search."""
    predict_grokking_times(files["landscape"], [2e-5, 4e-5], start=(30.0, 0.05))
    analyze_path(files["landscape"], 2e-5, start=(30.0, 0.05))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_argument_list_ends_in_a_traceback(files, warm, data):
    """Any argument list: exit 0, or exit 2 with one `error:` line (argparse's own usage
    errors included); never an exception out of `main`."""
    argv = data.draw(command_lines(files), label="argv")
    rc, _, err = run_cli(argv)  # raises on a traceback: the test fails with it
    event(f"{argv[0]} exit {rc}")  # --hypothesis-show-statistics: the mix explored
    assert rc in (0, 2), (argv, err)
    if rc == 2:
        assert err.strip().splitlines()[-1].startswith(("error: ", "usage: ")) or \
            ": error: " in err, (argv, err)
    assert "Traceback" not in err
    if argv[0] in ("probe", "train"):
        assert rc == 2, (argv, err)
        assert not os.path.exists(os.path.join(files["out"], "never.nc"))
