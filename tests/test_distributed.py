"""Sweeps on a dask.distributed cluster: the same numbers as one process, and faults that
lose nothing (a worker killed mid-chunk, the whole sweep killed, a full disk)."""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")

from reduced_dynamics.cli.main import main  # noqa: E402
from reduced_dynamics.config import RunSet, TrainConfig  # noqa: E402
from reduced_dynamics.errors import InputError, WriteError  # noqa: E402
from reduced_dynamics.executors import DaskExecutor, LocalExecutor, local_cluster  # noqa: E402
from reduced_dynamics.io.landscape_file import open_landscape  # noqa: E402
from reduced_dynamics.io.parts import PartStore  # noqa: E402
from reduced_dynamics.io.schema import config_of  # noqa: E402
from reduced_dynamics.io.trajectory_file import open_trajectories  # noqa: E402
from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.toy_addition import PROBE_PRESETS, preset  # noqa: E402
from reduced_dynamics.training.sweep import run_training  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TASK = preset("paper")
# the preset `probe toy-addition` uses (CLI_GRID), 2 x 2 points: 4 chunks
PROBE = dataclasses.replace(PROBE_PRESETS["paper"], steps=20, chunk_size=1)
ALPHA, M = (0.5, 3.0), (0.0, 0.5)
CLI_GRID = ["--alpha", "0.5,3", "--m", "0,0.5", "--steps", "20", "--chunk-size", "1", "-q"]


def _grid() -> ProbeGrid:
    return ProbeGrid(tuple(w0_of(TASK, 0) * np.array(ALPHA)), M, (0,))


@contextmanager
def torch_threads(n: int):
    """Run with ``n`` torch threads, as the workers do (one per task). torch's results
    depend on its thread count at float32 rounding (parallel reductions), so a local run
    is bit-identical to a distributed one only with the same count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    with torch_threads(1):
        yield


def assert_same_data(a: xr.Dataset, b: xr.Dataset) -> None:
    """Every data variable and coordinate identical (attributes like dates may differ)."""
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.variables:
        xr.testing.assert_identical(a[name], b[name])


# ----------------------------------------------------------------------------- no cluster
def test_without_cluster_options_distributed_is_not_needed(tmp_path):
    """probe and train without --scheduler/--workers run with dask.distributed unimportable.

    (With dask and distributed installed, xarray's ``to_netcdf`` itself imports
    distributed to look for an active client, so "not in sys.modules" cannot be asked of
    any program that writes netCDF; blocking the import shows the local path never uses it.)
    """
    code = textwrap.dedent(f"""
        import sys
        sys.modules["distributed"] = None  # import distributed -> ImportError
        from reduced_dynamics.cli.main import main
        assert main(["probe", "toy-addition", *{CLI_GRID!r}, "--threads", "1",
                     "-o", {str(tmp_path / 'p.nc')!r}]) == 0
        assert main(["train", "toy-addition", "--gamma", "0.1", "--seeds", "1",
                     "--steps", "10", "--n-log", "4", "--chunk-size", "1", "-q",
                     "--threads", "1", "-o", {str(tmp_path / 't.nc')!r}]) == 0
        assert main(["probe", "toy-addition", *{CLI_GRID!r}, "--workers", "2",
                     "-o", {str(tmp_path / 'w.nc')!r}]) == 2
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "`--scheduler` and `--workers` need dask.distributed" in proc.stderr
    assert (tmp_path / "p.nc").exists() and (tmp_path / "t.nc").exists()


def test_cluster_option_errors(tmp_path, capsys):
    out = str(tmp_path / "x.nc")
    with pytest.raises(SystemExit) as exc:  # argparse: mutually exclusive
        main(["probe", "toy-addition", "--alpha", "1", "--workers", "2",
              "--scheduler", "tcp://127.0.0.1:8786", "-o", out])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert main(["probe", "toy-addition", "--alpha", "1", "--workers", "0", "-o", out]) == 2
    assert "`--workers` must be >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(InputError, match=r"`chunk_size` must be >= 1, got 0"):
        run_training(TASK, TrainConfig(steps=10, n_log=5),
                     RunSet.sweep([0.1], [0], [3.0], [0.1]),
                     tmp_path / "t.nc", chunk_size=0, progress=False)


def test_limit_threads_sets_torch_and_environment(monkeypatch):
    import numba

    from reduced_dynamics.executors import THREAD_ENV, limit_threads

    for var in THREAD_ENV:
        monkeypatch.setenv(var, "7")  # restored afterwards
    numba_before = numba.get_num_threads()
    with torch_threads(torch.get_num_threads()):
        try:
            limit_threads(1)
            assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
            assert all(os.environ[var] == "1" for var in THREAD_ENV)
        finally:
            numba.set_num_threads(numba_before)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    import dask

    # a worker that dies mid-task makes the task "suspicious"; allow a few deaths per task
    with dask.config.set({"distributed.scheduler.allowed-failures": 10}), \
            local_cluster(2, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The reference: the tiny landscape probed in this process, chunk after chunk."""
    out = tmp_path_factory.mktemp("clean") / "clean.nc"
    with torch_threads(1):
        return probe_landscape(TASK, PROBE, _grid(), out, progress=False)


class RecordingExecutor:
    """Wraps an executor; records which chunks it was asked to compute."""

    def __init__(self, inner):
        self.inner, self.asked = inner, []
        self.remote, self.slots = inner.remote, inner.slots
        self.threads = getattr(inner, "threads", 1)

    def map(self, fn, chunks, progress):
        self.asked.extend(c for c, _ in chunks)
        return self.inner.map(fn, chunks, progress)


# ----------------------------------------------------------------------------- same numbers
@pytest.mark.slow
def test_workers_2_give_the_same_file_as_one_process(tmp_path):
    """`probe --workers 2` writes bit-identical data to a single-process probe with the
    workers' one torch thread, and the same to float32 rounding with torch's default."""
    one, default, dask_out = tmp_path / "one.nc", tmp_path / "default.nc", tmp_path / "d.nc"
    with torch_threads(torch.get_num_threads()):  # --threads changes this process's torch
        assert main(["probe", "toy-addition", *CLI_GRID, "--threads", "1", "-o", str(one)]) == 0
    assert main(["probe", "toy-addition", *CLI_GRID, "-o", str(default)]) == 0
    assert main(["probe", "toy-addition", *CLI_GRID, "--workers", "2", "-o", str(dask_out)]) == 0
    d = open_landscape(dask_out)
    assert_same_data(open_landscape(one), d)
    ref = open_landscape(default)
    # float32 sums over the decoder's parameters, reordered by the thread count: rounding
    # ~ sqrt(n) eps relative to the summed magnitudes (dtrain_dw, a dot product with
    # cancellation, differed by 1.2e-6 relative between 1 and 2 threads here)
    n_params = sum(a * b + b for a, b in zip(TASK.layer_sizes[:-1], TASK.layer_sizes[1:]))
    rtol = float(np.sqrt(n_params) * np.finfo(np.float32).eps)
    for name in ref.data_vars:
        np.testing.assert_allclose(d[name], ref[name], rtol=rtol, atol=1e-12, err_msg=name)
    assert "--workers 2" in d.attrs["history"]
    assert config_of(d)["torch_threads"] == 1
    assert config_of(ref)["torch_threads"] == torch.get_num_threads()
    assert not Path(str(dask_out) + ".parts").exists()


def test_dask_executor_equals_local_run(client, clean, tmp_path):
    ds = probe_landscape(TASK, PROBE, _grid(), tmp_path / "d.nc", progress=False,
                         executor=DaskExecutor(client))
    assert_same_data(clean, ds)
    assert_same_data(clean, open_landscape(tmp_path / "d.nc"))


@pytest.mark.slow
def test_scheduler_option_sends_chunks_to_a_running_cluster(client, clean, tmp_path):
    address = client.scheduler.address
    out = tmp_path / "s.nc"
    assert main(["probe", "toy-addition", *CLI_GRID, "--scheduler", address, "-o", str(out)]) == 0
    assert_same_data(clean, open_landscape(out))
    runs = tmp_path / "runs.nc"
    assert main(["train", "toy-addition", "--gamma", "0.1,1", "--seeds", "1", "--steps", "10",
                 "--n-log", "4", "-q", "--scheduler", address, "-o", str(runs)]) == 0
    assert open_trajectories(runs).sizes["run"] == 2
    assert len(client.scheduler_info()["workers"]) == 2  # the cluster outlives the command


def test_train_chunks_on_workers(client, tmp_path):
    """Chunks of runs on workers = the same chunks here with one torch thread (bit for
    bit); = one batched model to float32 rounding (batch size and thread count change the
    rounding)."""
    cfg = TrainConfig(steps=30, n_log=8)
    runs = RunSet.sweep([0.1, 1.0], [0, 1], [3.0], [0.1])
    one = run_training(TASK, cfg, runs, tmp_path / "one.nc", progress=False)
    with torch_threads(1):
        here = run_training(TASK, cfg, runs, tmp_path / "here.nc", progress=False,
                            chunk_size=1)
    there = run_training(TASK, cfg, runs, tmp_path / "there.nc", progress=False,
                         chunk_size=1, executor=DaskExecutor(client))
    assert_same_data(here, there)
    assert_same_data(there, open_trajectories(tmp_path / "there.nc"))
    assert config_of(there)["runs_per_model"] == 1 and config_of(one)["runs_per_model"] == 4
    assert config_of(there)["torch_threads"] == 1
    # float32 rounding is relative to the O(1) scale of the start, so an absolute floor of
    # float32 epsilon (~1e-7) where a loss has fallen to ~1e-8 (measured: 2.5e-9 apart)
    for name in one.data_vars:
        np.testing.assert_allclose(there[name], one[name], rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    # the default chunking on a cluster: one chunk per worker thread
    auto = run_training(TASK, cfg, runs, tmp_path / "auto.nc", progress=False,
                        executor=DaskExecutor(client))
    for name in one.data_vars:
        np.testing.assert_allclose(auto[name], one[name], rtol=1e-6, atol=1e-7,
                                   err_msg=name)


# ----------------------------------------------------------------------------- faults
@dataclass(frozen=True)
class DieMidChunk:
    """A chunk function whose worker process dies halfway through ``victim``'s chunk, once
    (a marker file remembers that it happened)."""

    inner: object
    marker: str
    victim: int
    name = "dying"

    def __call__(self, members, progress=None):
        if self.victim in members and not os.path.exists(self.marker):
            steps = []

            def die_halfway(n):
                steps.append(n)
                if len(steps) == PROBE.steps // 2:
                    Path(self.marker).write_text(str(os.getpid()))
                    os._exit(1)  # the worker process dies; its nanny starts a new one

            return self.inner(members, die_halfway)
        return self.inner(members, progress)

    def work(self, members):
        return self.inner.work(members)


class DyingExecutor(DaskExecutor):
    def __init__(self, client, marker, victim):
        super().__init__(client)
        self.marker, self.victim = marker, victim

    def map(self, fn, chunks, progress):
        return super().map(DieMidChunk(fn, self.marker, self.victim), chunks, progress)


@pytest.mark.slow
def test_worker_killed_mid_chunk_is_recomputed(client, clean, tmp_path):
    marker = tmp_path / "died"
    ds = probe_landscape(TASK, PROBE, _grid(), tmp_path / "k.nc", progress=False,
                         executor=DyingExecutor(client, str(marker), victim=2))
    assert marker.exists()  # a worker really died halfway through chunk 2
    assert_same_data(clean, ds)
    client.wait_for_workers(2, timeout=60)  # its nanny started a new worker process
    assert int(marker.read_text()) not in client.run(os.getpid).values()


@pytest.mark.slow
def test_interrupted_dask_sweep_resumes_without_recomputing(client, clean, tmp_path,
                                                            monkeypatch):
    """Ctrl-C after the first part: pending chunks are cancelled, --resume does the rest."""
    import reduced_dynamics.io.parts as sweep

    real_write = PartStore.write

    def interrupted_write(self, chunk, members, results):
        real_write(self, chunk, members, results)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep.PartStore, "write", interrupted_write)
    out = tmp_path / "i.nc"
    with pytest.raises(KeyboardInterrupt):
        probe_landscape(TASK, PROBE, _grid(), out, progress=False,
                        executor=DaskExecutor(client))
    monkeypatch.setattr(sweep.PartStore, "write", real_write)
    done = PartStore(out, {}).done()
    assert len(done) == 1 and not out.exists()
    deadline = time.monotonic() + 10  # the other chunks were cancelled on the scheduler
    while _scheduler_keys(client, "probe-chunk") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _scheduler_keys(client, "probe-chunk") == []
    rec = RecordingExecutor(DaskExecutor(client))
    ds = probe_landscape(TASK, PROBE, _grid(), out, resume=True, progress=False, executor=rec)
    assert sorted(rec.asked) == sorted({0, 1, 2, 3} - done)
    assert_same_data(clean, ds)


def _scheduler_keys(client, prefix):
    keys = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))
    return [k for k in keys if str(k).startswith(prefix)]


KILLED_SWEEP = """
import sys, time
import numpy as np
from reduced_dynamics.landscape import sweep as probe_sweep
from reduced_dynamics.executors import executor_for
from reduced_dynamics.tasks.base import w0_of
import dataclasses
from reduced_dynamics.tasks.toy_addition import PROBE_PRESETS
from reduced_dynamics.tasks.toy_addition import preset

class StallingChunk(probe_sweep.ProbeChunk):
    # chunks 2 and 3 never finish, so the sweep is surely killed in the middle
    def __call__(self, members, progress=None):
        if members[0] >= 2:
            time.sleep(600)
        return super().__call__(members, progress)

probe_sweep.ProbeChunk = StallingChunk
task = preset("paper")
grid = probe_sweep.ProbeGrid(tuple(w0_of(task, 0) * np.array({alpha})), {m}, (0,))
with executor_for(workers=2) as executor:
    probe = dataclasses.replace(PROBE_PRESETS["paper"], steps={steps}, chunk_size=1)
    probe_sweep.probe_landscape(task, probe, grid,
                                sys.argv[1], progress=False, executor=executor)
"""


@pytest.mark.slow
def test_killed_sweep_resumes_without_loss_or_repeats(client, clean, tmp_path):
    """SIGKILL to the whole sweep (client, nannies, workers); --resume finishes it."""
    out = tmp_path / "killed.nc"
    code = KILLED_SWEEP.format(alpha=ALPHA, m=M, steps=PROBE.steps)
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=tmp_path,
                            start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    store = PartStore(out, {})
    try:
        deadline = time.monotonic() + 120
        while len(store.done()) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.05)
        assert store.done() == {0, 1}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep's own process group only
        proc.wait(timeout=30)
    assert not out.exists()
    rec = RecordingExecutor(DaskExecutor(client))
    with pytest.warns(RuntimeWarning, match="took over the lock"):  # the killed sweep's
        ds = probe_landscape(TASK, PROBE, _grid(), out, resume=True, progress=False,
                             executor=rec)
    assert sorted(rec.asked) == [2, 3]  # nothing lost, nothing computed twice
    assert_same_data(clean, ds)
    assert_same_data(clean, open_landscape(out))


def _disk_error(monkeypatch, fails, code=errno.ENOSPC):
    """Make ``to_netcdf`` fail (after writing some bytes) for targets named by ``fails``."""
    real = xr.Dataset.to_netcdf

    def to_netcdf(self, target, *args, **kwargs):
        if fails(Path(target).name):
            with open(target, "wb") as fh:
                fh.write(b"partial")
            raise OSError(code, os.strerror(code))
        return real(self, target, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", to_netcdf)


@pytest.mark.parametrize(("code", "where"), [(errno.ENOSPC, "local"), (errno.EACCES, "local"),
                                              (errno.ENOSPC, "dask")])
def test_failed_part_write_keeps_earlier_files(request, clean, one_thread, tmp_path,
                                               monkeypatch, code, where):
    """A part that cannot be written: the previous landscape and the finished parts are
    intact, no temporary is left, the error says so; after that, --resume completes."""
    out = tmp_path / "l.nc"
    out.write_bytes(b"previous landscape")
    before = out.read_bytes()
    executor = (DaskExecutor(request.getfixturevalue("client")) if where == "dask"
                else LocalExecutor())
    written = []

    def fails(name):
        if name.startswith(".chunk_"):
            written.append(name)
            return len(written) == 2  # the second part hits the full disk
        return False

    _disk_error(monkeypatch, fails, code)
    with pytest.raises(WriteError, match=rf"chunk_0000\d\.nc: {os.strerror(code)}; no file "
                                         "was written"):
        probe_landscape(TASK, PROBE, _grid(), out, progress=False, executor=executor,
                        overwrite=True)  # the stand-in "previous landscape" is not netCDF
    assert out.read_bytes() == before
    folder = Path(str(out) + ".parts")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["sweep.json", *(f"chunk_{c:05d}.nc" for c in PartStore(out, {}).done())])
    assert len(PartStore(out, {}).done()) == 1
    monkeypatch.undo()  # space freed
    ds = probe_landscape(TASK, PROBE, _grid(), out, resume=True, progress=False,
                         executor=executor, overwrite=True)
    assert_same_data(clean, ds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.nc"]


def test_failed_final_write_keeps_previous_file_and_parts(clean, one_thread, tmp_path,
                                                          monkeypatch, capsys):
    """The merge cannot be written: the old file is intact, every part is kept, the
    message says so, and --resume then only merges (computes nothing)."""
    out = tmp_path / "l.nc"
    out.write_bytes(b"previous landscape")
    _disk_error(monkeypatch, lambda name: name.startswith(".l.nc."))
    argv = ["probe", "toy-addition", *CLI_GRID, "--threads", "1", "--overwrite", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "No space left on device; the previous file is intact; it needs about" in err
    assert "the finished chunks are kept in" in err and "rerun with --resume" in err
    assert out.read_bytes() == b"previous landscape"
    assert PartStore(out, {}).done() == {0, 1, 2, 3}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    monkeypatch.undo()
    rec = RecordingExecutor(LocalExecutor())
    ds = probe_landscape(TASK, PROBE, _grid(), out, resume=True, progress=False, executor=rec,
                         overwrite=True)
    assert rec.asked == []
    assert_same_data(clean, ds)


def test_chunked_training_resumes_and_refuses_to_mix(one_thread, tmp_path, monkeypatch):
    import reduced_dynamics.io.parts as sweep

    cfg = TrainConfig(steps=20, n_log=6)
    runs = RunSet.sweep([0.1, 1.0, 3.0], [0], [3.0], [0.1])
    clean = run_training(TASK, cfg, runs, tmp_path / "clean.nc", progress=False, chunk_size=1)
    real_write = PartStore.write

    def interrupted_write(self, chunk, members, results):
        real_write(self, chunk, members, results)
        raise KeyboardInterrupt

    out = tmp_path / "r.nc"
    monkeypatch.setattr(sweep.PartStore, "write", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        run_training(TASK, cfg, runs, out, progress=False, chunk_size=1)
    monkeypatch.undo()
    with pytest.raises(InputError, match="--chunk-size 1"):  # the unchunked path refuses
        run_training(TASK, cfg, runs, out, resume=True, progress=False)
    rec = RecordingExecutor(LocalExecutor())
    resumed = run_training(TASK, cfg, runs, out, resume=True, progress=False, chunk_size=1,
                           executor=rec)
    assert rec.asked == [1, 2]
    assert_same_data(clean, resumed)
    # an unchunked run's checkpoint is not mixed with chunks either
    (tmp_path / "c.nc.ckpt").write_bytes(b"checkpoint")
    with pytest.raises(InputError, match="checkpoint of an earlier unchunked run"):
        run_training(TASK, cfg, runs, tmp_path / "c.nc", progress=False, chunk_size=2)
