"""Adversarial cases of issue 9, items 1 and 2: resume fingerprints, one writer per output,
and every argument and output path checked before anything is computed or created."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from conftest import make_landscape  # noqa: E402

import reduced_dynamics.training.trainer as trainer_mod  # noqa: E402
from reduced_dynamics.cli.main import main  # noqa: E402
from reduced_dynamics.config import (  # noqa: E402
    ProbeConfig,
    RunSet,
    TrainConfig,
)
from reduced_dynamics.errors import InputError  # noqa: E402
from reduced_dynamics.io.fingerprint import config_diff, describe_diff  # noqa: E402
from reduced_dynamics.io.landscape_file import save_landscape  # noqa: E402
from reduced_dynamics.io.lock import check_output, lock_path, output_lock  # noqa: E402
from reduced_dynamics.io.parts import PartStore  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.toy_addition import preset  # noqa: E402

pytestmark = pytest.mark.usefixtures("keep_torch_threads")

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["train", "toy-addition", "--gamma", "0.1,1", "--seeds", "1", "--steps", "20",
         "--n-log", "4", "--threads", "1", "-q"]
PROBE = ["probe", "toy-addition", "--alpha", "1,2", "--m", "0,0.5", "--steps", "10",
         "--chunk-size", "1", "--threads", "1", "-q"]
PROBE_W = ["probe", "toy-addition", "--w", "1", "--m", "0", "--steps", "10", "--threads", "1",
           "-q"]
W0 = w0_of(preset("paper"), 0)






@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if a probe chunk or a training run is ever started."""
    import reduced_dynamics.landscape.probe as probe_mod

    def refuse(*args, **kwargs):
        raise AssertionError("computation started although the command must be refused")

    monkeypatch.setattr(probe_mod, "probe_batch", refuse)
    monkeypatch.setattr(trainer_mod, "train_runs", refuse)
    monkeypatch.setattr(trainer_mod.BatchedRuns, "__init__", refuse)


def _with(argv: list[str], *changes: str) -> list[str]:
    """``argv`` with options replaced (``"--steps", "30"``) or flags/options added."""
    out = list(argv)
    i = 0
    while i < len(changes):
        opt = changes[i]
        has_value = i + 1 < len(changes) and not changes[i + 1].startswith("--")
        if opt in out and has_value:
            out[out.index(opt) + 1] = changes[i + 1]
        else:
            out += [opt, changes[i + 1]] if has_value else [opt]
        i += 2 if has_value else 1
    return out


def run(argv: list[str], out: Path, capsys) -> tuple[int, str]:
    rc = main([*argv, "-o", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def _interrupted(argv, out, capsys, monkeypatch, *, chunked: bool) -> None:
    """Run ``argv`` and kill it (Ctrl-C) right after its first part or checkpoint."""
    with monkeypatch.context() as mp:
        if chunked:
            real = PartStore.write

            def write_then_die(self, chunk, members, results):
                real(self, chunk, members, results)
                raise KeyboardInterrupt

            mp.setattr(PartStore, "write", write_then_die)
        else:
            real = trainer_mod._save_checkpoint

            def save_then_die(path, payload):
                real(path, payload)
                raise KeyboardInterrupt

            mp.setattr(trainer_mod, "_save_checkpoint", save_then_die)
        assert run(argv, out, capsys)[0] == 130
    assert not out.exists()
    assert not lock_path(out).exists()  # released on Ctrl-C
    side = Path(f"{out}.parts") if chunked else Path(f"{out}.ckpt")
    assert side.exists()


def _dumps(values) -> str:
    return json.dumps(values)


# --------------------------------------------------------------- resume: fingerprints
TRAIN_CHANGES = [  # (changed options, field, stored, now)
    (("--gamma", "0.1,2"), "runs.gamma", "[0.1, 1.0]", "[0.1, 2.0]"),
    (("--steps", "30"), "train.steps", "20", "30"),
    (("--seeds", "2"), "runs.seed", "[0, 0]", "[0, 1, 0, 1]"),
    (("--alpha0", "4"), "runs.alpha0", "[5.0, 5.0]", "[4.0, 4.0]"),
    (("--m0", "0.2"), "runs.m0", "[0.12, 0.12]", "[0.2, 0.2]"),
    (("--n-log", "5"), "train.n_log", "4", "5"),
    (("--dtype", "float64"), "train.dtype", '"float32"', '"float64"'),
    (("--threads", "2"), "torch_threads", "1", "2"),
    (("--preset", "notebook"), "task.preset", '"paper"', '"notebook"'),
    (("--eta-d", "0.002"), "train.eta_d", "0.001", "0.002"),
    (("--wd-representation",), "train.wd_representation", "false", "true"),
]


@pytest.mark.parametrize("chunked", [False, True], ids=["checkpoint", "parts"])
@pytest.mark.parametrize(("change", "field", "old", "new"), TRAIN_CHANGES,
                         ids=[c[1] for c in TRAIN_CHANGES])
def test_train_resume_refuses_every_differing_field(tmp_path, capsys, monkeypatch,
                                                    short_checkpoints, chunked, change, field,
                                                    old, new):
    base = _with(TRAIN, "--chunk-size", "1") if chunked else TRAIN
    out = tmp_path / "r.nc"
    _interrupted(base, out, capsys, monkeypatch, chunked=chunked)
    side = Path(f"{out}.parts") if chunked else Path(f"{out}.ckpt")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    rc, err = run(_with(base, *change, "--resume"), out, capsys)
    assert rc == 2
    assert f"{field} (stored {old}, now {new})" in err
    where = "checkpoint" if not chunked else "finished chunks"
    assert f"the {where}" in err and str(side) in err and "--resume" in err
    assert err.count("\n") == 1  # one line
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing touched
    assert not out.exists()


def test_train_chunked_resume_refuses_another_chunk_size(tmp_path, capsys, monkeypatch):
    base = _with(TRAIN, "--chunk-size", "1")
    out = tmp_path / "r.nc"
    _interrupted(base, out, capsys, monkeypatch, chunked=True)
    rc, err = run(_with(base, "--chunk-size", "2", "--resume"), out, capsys)
    assert rc == 2 and "chunk_size (stored 1, now 2)" in err


def test_train_resume_lists_each_difference(tmp_path, capsys, monkeypatch, short_checkpoints):
    """Today's bug: other gamma and --steps 12000 for 11000 were accepted; now both are
    named, with both values, in one message."""
    out = tmp_path / "r.nc"
    _interrupted(TRAIN, out, capsys, monkeypatch, chunked=False)
    rc, err = run(_with(TRAIN, "--gamma", "0.2,1", "--steps", "21", "--resume"), out, capsys)
    assert rc == 2
    assert "2 setting(s) differ" in err
    assert "runs.gamma (stored [0.1, 1.0], now [0.2, 1.0])" in err
    assert "train.steps (stored 20, now 21)" in err


PROBE_CHANGES = [
    (("--alpha", "1,3"), "grid.w", _dumps([W0, 2 * W0]), _dumps([W0, 3 * W0])),
    (("--m", "0,0.25"), "grid.m", "[0.0, 0.5]", "[0.0, 0.25]"),
    (("--seeds", "2"), "grid.seeds", "[0]", "[0, 1]"),
    (("--steps", "12"), "probe.steps", "10", "12"),
    (("--lr", "0.002"), "probe.lr", "0.001", "0.002"),
    (("--schedule", "constant"), "probe.schedule", '"cosine"', '"constant"'),
    (("--lr-scaling", "constant"), "probe.lr_scaling", '"alpha"', '"constant"'),
    (("--dtype", "float64"), "probe.dtype", '"float32"', '"float64"'),
    (("--chunk-size", "2"), "probe.chunk_size", "1", "2"),
    (("--threads", "2"), "torch_threads", "1", "2"),
    (("--preset", "notebook"), "task.preset", '"paper"', '"notebook"'),
]


@pytest.mark.parametrize(("change", "field", "old", "new"), PROBE_CHANGES,
                         ids=[c[1] for c in PROBE_CHANGES])
def test_probe_resume_refuses_every_differing_field(tmp_path, capsys, monkeypatch, change,
                                                    field, old, new):
    out = tmp_path / "l.nc"
    _interrupted(PROBE, out, capsys, monkeypatch, chunked=True)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    rc, err = run(_with(PROBE, *change, "--resume"), out, capsys)
    assert rc == 2
    assert f"{field} (stored {old}, now {new})" in err
    assert "belong to a different sweep" in err and err.count("\n") == 1
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


@pytest.mark.parametrize(("base", "chunked"), [(TRAIN, False), (TRAIN, True), (PROBE, True)],
                         ids=["train-checkpoint", "train-parts", "probe-parts"])
def test_identical_resume_equals_uninterrupted(tmp_path, capsys, monkeypatch,
                                               short_checkpoints, base, chunked):
    if chunked and base is TRAIN:
        base = _with(TRAIN, "--chunk-size", "1")
    clean = tmp_path / "clean.nc"
    assert run(base, clean, capsys)[0] == 0
    out = tmp_path / "resumed.nc"
    _interrupted(base, out, capsys, monkeypatch, chunked=chunked)
    assert run(base, out, capsys)[0] == 2  # without --resume: refused, work kept
    assert run(_with(base, "--resume"), out, capsys)[0] == 0
    with xr.open_dataset(clean) as a, xr.open_dataset(out) as b:
        for name in a.variables:
            xr.testing.assert_identical(a[name].load(), b[name].load())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.nc", "resumed.nc"]


def test_checkpoint_without_fingerprint_or_damaged_is_refused(tmp_path, capsys,
                                                              short_checkpoints):
    out = tmp_path / "r.nc"
    ckpt = Path(f"{out}.ckpt")
    torch.save({"state": {}, "logs": {}}, ckpt)  # an older version's checkpoint
    rc, err = run(_with(TRAIN, "--resume"), out, capsys)
    assert rc == 2 and "carries no fingerprint" in err and str(ckpt) in err
    ckpt.write_bytes(b"not a checkpoint")
    rc, err = run(_with(TRAIN, "--resume"), out, capsys)
    assert rc == 2 and f"checkpoint {ckpt} could not be read" in err


def test_parts_with_a_damaged_manifest_are_refused(tmp_path, capsys, monkeypatch):
    out = tmp_path / "l.nc"
    _interrupted(PROBE, out, capsys, monkeypatch, chunked=True)
    manifest = Path(f"{out}.parts") / "sweep.json"
    manifest.write_text("{not json")
    rc, err = run(_with(PROBE, "--resume"), out, capsys)
    assert rc == 2 and "carries no fingerprint" in err and f"delete {out}.parts" in err


def test_config_diff_names_nested_paths_and_missing_fields():
    stored = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "old": 3}
    now = {"a": {"b": 2, "c": [1, 2]}, "d": "x", "new": True}
    diff = config_diff(stored, now)
    assert [d[0] for d in diff] == ["a.b", "new", "old"]
    text = describe_diff(diff)
    assert "a.b (stored 1, now 2)" in text
    assert "new (stored <not recorded>, now true)" in text
    long_old, long_new = list(range(100)), list(range(100))
    long_new[37] = -1
    text = describe_diff(config_diff({"g": long_old}, {"g": long_new}))
    assert text == "g (first difference at [37]: stored 37, now -1)"
    assert config_diff({"x": 1.0, "f": False}, {"x": 1, "f": 0}) == [("f", False, 0)]


# ------------------------------------------------------------------ one writer per output
def _hold_lock(out: Path, pid: int, host: str | None = None) -> Path:
    path = lock_path(out)
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                "started": "2024-01-01T00:00:00+00:00", "command": "other"}))
    return path


@pytest.mark.parametrize("argv", [TRAIN, PROBE], ids=["train", "probe"])
def test_concurrent_writer_is_refused_at_once(tmp_path, capsys, no_compute, argv):
    out = tmp_path / "x.nc"
    lock = _hold_lock(out, os.getpid())  # a live process holds it (this one)
    before = lock.read_text()
    start = time.perf_counter()
    rc, err = run(argv, out, capsys)
    assert rc == 2 and time.perf_counter() - start < 3
    assert f"`-o` {str(out)!r} is being written by another command (pid {os.getpid()}" in err
    assert f"delete {lock}" in err
    assert lock.read_text() == before  # the holder's lock is left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc.lock"]


def test_lock_of_another_host_is_refused(tmp_path, capsys, no_compute):
    out = tmp_path / "x.nc"
    _hold_lock(out, 1, host="some-other-node")
    rc, err = run(TRAIN, out, capsys)
    assert rc == 2 and "on host some-other-node" in err


def test_lock_of_a_killed_process_is_taken_over(tmp_path, capsys):
    """A real second process holds the lock: refused; after it is killed (SIGKILL, no
    clean-up), the lock is stale and the next command takes it over with a warning."""
    out = tmp_path / "x.nc"
    code = ("import sys, time\nfrom reduced_dynamics.io.lock import output_lock\n"
            "with output_lock(sys.argv[1]):\n    print('held', flush=True)\n"
            "    time.sleep(120)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "held"
        rc, err = run(PROBE, out, capsys)
        assert rc == 2 and f"pid {proc.pid}" in err
    finally:
        proc.kill()
        proc.wait(timeout=30)
    with pytest.warns(RuntimeWarning, match=f"took over the lock .* \\(pid {proc.pid}\\)"):
        assert run(PROBE, out, capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]


def test_lock_is_reentrant_in_one_thread_and_released_on_error(tmp_path):
    out = tmp_path / "x.nc"
    with pytest.raises(RuntimeError, match="boom"), output_lock(out):
        with output_lock(out):  # the CLI holds it, then probe_landscape again
            assert lock_path(out).exists()
        assert lock_path(out).exists()
        raise RuntimeError("boom")
    assert not lock_path(out).exists()


# ----------------------------------------------------------- bad values: refused up front
BAD = [
    (PROBE, ("--alpha", "1e308"), "`--alpha` must be below"),
    (PROBE, ("--alpha", "2e18", "--dtype", "float32"), "`--alpha` must be below 1.27e+18"),
    (PROBE_W, ("--w", "1e300", "--dtype", "float64"), "`--w` must be below 1.34e+154"),
    (PROBE, ("--lr", "inf"), "`lr` must be a finite number > 0, got inf"),
    (PROBE, ("--lr", "nan"), "`lr` must be a finite number > 0, got nan"),
    (PROBE, ("--lr", "-1"), "`lr` must be a finite number > 0"),
    (PROBE, ("--steps", "10000000000"), "`steps` must be <= 1000000000"),
    (PROBE, ("--seeds", "99999999999999999999"), "`--seeds` as a count must be <= 10000"),
    (PROBE, ("--seeds", "0,99999999999999999999"), "`--seeds` must be integers from 0 to"),
    (PROBE, ("--chunk-size", "0"), "`chunk_size` must be >= 1, got 0"),
    (PROBE, ("--threads", "100000"), "`--threads` must be <="),
    (PROBE, ("--workers", "100000"), "`--workers` must be <="),
    (TRAIN, ("--gamma", "1e300"), "`gamma` x `eta_d` must be < 1"),
    (TRAIN, ("--gamma", "0.5", "--eta-d", "2"), "got gamma = 0.5 with eta_d = 2; use gamma"),
    (TRAIN, ("--gamma", "0.9", "--eta-r", "2", "--wd-representation"),
     "`gamma` x `eta_r` must be < 1"),
    (TRAIN, ("--gamma", "inf"), "`--gamma` must be finite numbers"),
    (TRAIN, ("--eta-d", "inf"), "`--eta-d` must be finite numbers, got 'inf'"),
    (TRAIN, ("--eta-r", "nan"), "`--eta-r` must be finite numbers, got 'nan'"),
    (TRAIN, ("--alpha0", "1e308"), "`alpha0` must be below"),
    (TRAIN, ("--alpha0", "1e300", "--dtype", "float64"), "`alpha0` must be below 9"),
    (TRAIN, ("--seeds", "99999999999999999999"), "`--seeds` as a count must be <= 10000"),
    (TRAIN, ("--seeds", "1,12345678901234567890"), "`--seeds` must be integers from 0"),
    (TRAIN, ("--steps", "0"), "`steps` must be >= 1, got 0"),
    (TRAIN, ("--steps", "10000000000"), "`steps` must be <= 1000000000"),
    (TRAIN, ("--n-log", "40"), "`n_log` must be <= `steps` = 20"),
    (TRAIN, ("--n-log", "0"), "`n_log` must be >= 1, got 0"),
    (TRAIN, ("--m0", "2"), "`m0` must be a finite number >= 0 and <= 1, got 2.0"),
    (TRAIN, ("--chunk-size", "0"), "`--chunk-size` must be >= 1, got 0"),
]


@pytest.mark.parametrize(("argv", "change", "message"), BAD,
                         ids=[f"{a[0]}{' '.join(c)}" for a, c, _ in BAD])
def test_bad_values_refused_before_anything_is_computed_or_created(
        tmp_path, capsys, no_compute, argv, change, message):
    out = tmp_path / "x.nc"
    start = time.perf_counter()
    rc, err = run(_with(argv, *change), out, capsys)
    assert rc == 2, err
    assert time.perf_counter() - start < 3
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # no parts, checkpoint, lock or output


def test_refused_first_chunk_leaves_no_parts_and_the_corrected_command_runs(tmp_path, capsys):
    """The teacher's seed is refused inside the first chunk: the (empty) parts folder is
    removed, so the corrected command needs no --resume and no clean-up."""
    argv = ["probe", "teacher-student", "--alpha", "1,2", "--steps", "10", "--chunk-size",
            "1", "--threads", "1", "-q"]
    out = tmp_path / "ts.nc"
    rc, err = run(_with(argv, "--seeds", "0,1"), out, capsys)
    assert rc == 2 and "teacher's seed" in err
    assert list(tmp_path.iterdir()) == []
    assert run(_with(argv, "--seeds", "1,2"), out, capsys)[0] == 0


def test_parts_folder_without_a_finished_chunk_does_not_block(tmp_path, capsys):
    out = tmp_path / "l.nc"
    folder = Path(f"{out}.parts")
    folder.mkdir()
    (folder / "sweep.json").write_text("{}")  # a crash before the first chunk
    assert run(PROBE, out, capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.nc"]


# -------------------------------------------------------------------- output-path checks
@pytest.mark.parametrize("argv", [TRAIN, PROBE], ids=["train", "probe"])
def test_output_folder_must_exist_and_be_a_writable_folder(tmp_path, capsys, monkeypatch,
                                                           no_compute, argv):
    rc, err = run(argv, tmp_path / "missing" / "x.nc", capsys)
    assert rc == 2 and "its folder" in err and "does not exist" in err
    (tmp_path / "notes.txt").write_text("notes")
    rc, err = run(argv, tmp_path / "notes.txt" / "x.nc", capsys)
    assert rc == 2 and "notes.txt' is a file, not a folder" in err
    rc, err = run(argv, tmp_path, capsys)
    assert rc == 2 and "is an existing folder; give a file name" in err
    import reduced_dynamics.io.lock as lock_mod

    real_access = os.access
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(lock_mod.os, "access",
                        lambda p, mode: False if Path(p) == ro else real_access(p, mode))
    rc, err = run(argv, ro / "x.nc", capsys)
    assert rc == 2 and f"the folder {str(ro)!r} is not writable" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["notes.txt", "ro"]


def test_output_must_not_be_an_input(tmp_path, capsys, landscape):
    path = save_landscape(landscape, tmp_path / "l.nc")
    with pytest.raises(InputError, match="is the input file"):
        check_output(tmp_path / "." / "l.nc", "landscape", inputs=[path])
    before = path.read_bytes()
    assert main(["plot", str(path), "-o", str(path)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert path.read_bytes() == before


@pytest.mark.parametrize(("argv", "kind"), [(TRAIN, "trajectory"), (PROBE, "landscape")],
                         ids=["train", "probe"])
def test_existing_file_of_another_kind_needs_overwrite(tmp_path, capsys, argv, kind):
    other = tmp_path / "other.nc"
    if kind == "trajectory":
        save_landscape(make_landscape(), other)  # train -o landscape.nc
        other_kind = "a landscape file"
    else:
        assert run(TRAIN, other, capsys)[0] == 0  # probe -o runs.nc
        other_kind = "a trajectory file"
    text = tmp_path / "notes.txt"
    text.write_text("my notes")
    for target, what in [(other, other_kind), (text, "not a netCDF file")]:
        before = target.read_bytes()
        rc, err = run(argv, target, capsys)
        assert rc == 2 and f"is not a {kind} file (it is {what})" in err
        assert "--overwrite" in err and target.read_bytes() == before
        assert run(_with(argv, "--overwrite"), target, capsys)[0] == 0
        with xr.open_dataset(target) as ds:
            assert ds.attrs["reduced_dynamics_file"] == kind
    # a file of the same kind is refused too (issue 18), and replaced only with --overwrite
    before = text.read_bytes()
    rc, err = run(argv, text, capsys)
    assert rc == 2 and f"exists (it is a {kind} file of task" in err
    assert text.read_bytes() == before
    assert run(_with(argv, "--overwrite"), text, capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "other.nc"]


# ------------------------------------------------------------ property-based: no traceback
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -1.0, 1e-300, 1e18, 1e154, 1e300, 1e308]))
OPTIONS = {"probe": ["--alpha", "--lr"], "train": ["--gamma", "--eta-d", "--eta-r",
                                                    "--alpha0"]}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["probe", "train"]), data=st.data(), value=FLOATS)
def test_any_number_gives_a_clean_error_or_a_result(command, data, value, capsys):
    option = data.draw(st.sampled_from(OPTIONS[command]))
    text = repr(value) if math.isfinite(value) else str(value)
    if command == "probe":
        argv = ["probe", "toy-addition", "--alpha", "1", "--m", "0", "--steps", "10",
                "--threads", "1", "-q", f"{option}={text}"]
    else:
        argv = ["train", "toy-addition", "--gamma", "0.5", "--seeds", "1", "--steps", "3",
                "--n-log", "2", "--threads", "1", "-q", f"{option}={text}"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.nc"
        rc = main([*argv, "-o", str(out)])  # any exception fails the test
        err = capsys.readouterr().err
        assert rc in (0, 2), err
        left = sorted(p.name for p in Path(tmp).iterdir())
        if rc == 2:
            assert err.startswith("error: ") and "Traceback" not in err
            assert left in ([], ["x.nc.parts"]) and "x.nc.lock" not in left
        else:
            assert left == ["x.nc"]


@settings(max_examples=60, deadline=None)
@given(lr=FLOATS, eta=FLOATS, gamma=FLOATS, seed=st.integers(-2, 2**70))
def test_configs_accept_only_values_with_finite_results(lr, eta, gamma, seed):
    """The Python API gets the same checks: InputError, or a config of finite values."""
    max_step = float(np.finfo(np.float32).max)  # Adam's first step: lr / (1 - beta1)
    try:
        probe = ProbeConfig(lr=lr, steps=10)
    except InputError:
        assert not (0 < lr < max_step * (1 - 0.9))
    else:
        assert 0 < probe.lr / (1 - probe.beta1) < max_step
    try:
        cfg = TrainConfig(eta_d=eta, steps=10, n_log=5)
        runs = RunSet((gamma,), (seed,), (1.0,), (0.0,))
        cfg.check_decay(runs)
    except InputError:
        ok = (0 < eta < max_step * (1 - 0.9) and math.isfinite(gamma) and gamma >= 0
              and 0 <= seed < 2**32 and eta * gamma < 1)
        assert not ok
    else:
        assert 0 <= runs.seed[0] < 2**32 and cfg.eta_d * runs.gamma[0] < 1
        assert cfg.eta_d / (1 - cfg.beta1) < max_step


def test_huge_seed_list_is_refused_by_the_api_too():
    with pytest.raises(InputError, match=r"`seed` must be integers from 0 to 2\*\*32 - 1"):
        RunSet((0.1,), (2**64,), (1.0,), (0.0,))
    with pytest.raises(InputError, match="`n_log` must be <= `steps` = 10"):
        TrainConfig(steps=10, n_log=11)
    assert np.isfinite(TrainConfig(steps=10, n_log=10).log_steps()).all()
