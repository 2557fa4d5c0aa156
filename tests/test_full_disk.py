"""Full disks and failed writes (issue 18 item 2): every kind of file the package writes
(landscape, sweep part, runs file, checkpoint, figure, CSV) goes through one atomic writer.
A write that fails (here: the library's writer patched to write a little and raise ENOSPC,
as a full disk does) leaves no temporary file, keeps the finished files, parts and the last
good checkpoint, and ends the command with one ``error:`` line giving the space needed; for
``probe`` and ``train``, ``--resume`` then finishes the job with the same result."""

from __future__ import annotations

import ast
import errno
import os
from pathlib import Path

import pytest
import xarray as xr

pytest.importorskip("torch")
import torch

from reduced_dynamics.cli.main import main
from reduced_dynamics.errors import WriteError
from reduced_dynamics.io.atomic import write_atomic, write_csv, write_text

pytestmark = pytest.mark.usefixtures("keep_torch_threads")

ROOT = Path(__file__).resolve().parents[1]
PROBE = ["probe", "toy-addition", "--alpha", "1,2", "--m", "0,0.5", "--steps", "10",
         "--chunk-size", "2", "--threads", "1", "-q"]  # 2 chunks
TRAIN = ["train", "toy-addition", "--gamma", "0.1,1", "--seeds", "1", "--steps", "20",
         "--n-log", "4", "--threads", "1", "-q"]
LANDSCAPE = ROOT / "landscapes" / "toy_addition_paper.nc"
RUNS = ROOT / "docs" / "data" / "toy_study_runs.nc"






def disk_full(monkeypatch, owner, name, target_of, when):
    """Patch ``owner.name`` (a library's writer) so that the calls whose target path
    satisfies ``when(path, n)`` (n: how many writes of that kind came before) write a few
    bytes and raise ENOSPC, as on a full disk; the others write. Returns the failed
    targets."""
    real = getattr(owner, name)
    calls, failed = [], []

    def writer(*args, **kwargs):
        target = Path(target_of(args))
        calls.append(target)
        if when(target, len(calls) - 1):
            failed.append(target)
            with open(target, "wb") as fh:
                fh.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, writer)
    return failed


def netcdf_full(monkeypatch, when):
    return disk_full(monkeypatch, xr.Dataset, "to_netcdf", lambda a: a[1], when)


def run(argv, capsys):
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, err


def assert_write_error(rc, err, *fragments):
    """Exit status 2, one ``error:`` line with the space needed and what is free."""
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "No space left on device" in err and "it needs about" in err, err
    assert "are free in" in err, err
    for fragment in fragments:
        assert fragment in err, err


def no_temporaries(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert left == [], left


def assert_same_file(a: Path, b: Path) -> None:
    with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
        for name in x.variables:
            xr.testing.assert_identical(x[name].load(), y[name].load())


# ------------------------------------------------------------------- probe: parts, landscape
@pytest.mark.parametrize("failing", ["second part", "landscape"])
def test_probe_on_a_full_disk_keeps_the_parts_and_resume_finishes(failing, tmp_path, capsys,
                                                                  monkeypatch):
    clean = tmp_path / "clean" / "l.nc"
    clean.parent.mkdir()
    assert run([*PROBE, "-o", str(clean)], capsys)[0] == 0
    out = tmp_path / "l.nc"
    parts = tmp_path / "l.nc.parts"
    with monkeypatch.context() as mp:
        if failing == "second part":
            failed = netcdf_full(mp, lambda p, n: p.parent == parts and n == 1)
        else:
            failed = netcdf_full(mp, lambda p, n: p.parent == tmp_path)
        rc, err = run([*PROBE, "-o", str(out)], capsys)
    assert len(failed) == 1 and failed[0].name.endswith(".tmp")
    kept = 1 if failing == "second part" else 2
    assert_write_error(rc, err, "--resume", str(parts))
    assert not out.exists()
    no_temporaries(tmp_path)
    assert sorted(p.name for p in parts.glob("chunk_*.nc")) == [
        f"chunk_{i:05d}.nc" for i in range(kept)]
    for part in parts.glob("chunk_*.nc"):  # the finished parts are whole, readable files
        with xr.open_dataset(part) as ds:
            ds.load()
    assert run([*PROBE, "--resume", "-o", str(out)], capsys)[0] == 0
    assert_same_file(clean, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "l.nc"]


# ------------------------------------------------------------------ train: checkpoint, runs
def test_train_on_a_full_disk_keeps_the_last_checkpoint_and_resume_finishes(
        tmp_path, capsys, monkeypatch, short_checkpoints):
    clean = tmp_path / "clean" / "r.nc"
    clean.parent.mkdir()
    assert run([*TRAIN, "-o", str(clean)], capsys)[0] == 0
    out = tmp_path / "r.nc"
    ckpt = tmp_path / "r.nc.ckpt"
    with monkeypatch.context() as mp:  # the first checkpoint (step 5) is written, not the 2nd
        failed = disk_full(mp, torch, "save", lambda a: a[1], lambda p, n: n == 1)
        rc, err = run([*TRAIN, "-o", str(out)], capsys)
    assert len(failed) == 1
    assert_write_error(rc, err, "the checkpoint", str(ckpt), "--resume",
                       "the previous file is intact")
    no_temporaries(tmp_path)
    assert not out.exists()
    saved = torch.load(ckpt, weights_only=False)
    assert saved["state"]["step"] == 5  # the last good checkpoint
    assert run([*TRAIN, "--resume", "-o", str(out)], capsys)[0] == 0
    assert_same_file(clean, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "r.nc"]


def test_train_on_a_full_disk_at_the_runs_file_keeps_the_training(tmp_path, capsys,
                                                                   monkeypatch):
    clean = tmp_path / "clean" / "r.nc"
    clean.parent.mkdir()
    assert run([*TRAIN, "-o", str(clean)], capsys)[0] == 0
    out = tmp_path / "r.nc"
    with monkeypatch.context() as mp:
        failed = netcdf_full(mp, lambda p, n: p.parent == tmp_path)
        rc, err = run([*TRAIN, "-o", str(out)], capsys)
    assert len(failed) == 1
    assert_write_error(rc, err, f"{out}.ckpt", "--resume")
    no_temporaries(tmp_path)
    assert not out.exists() and torch.load(f"{out}.ckpt", weights_only=False)["state"][
        "step"] == 20
    assert run([*TRAIN, "--resume", "-o", str(out)], capsys)[0] == 0
    assert_same_file(clean, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "r.nc"]


# ------------------------------------------------------------------------- figures and CSV
def test_plot_on_a_full_disk_keeps_the_previous_figure(tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    out = tmp_path / "f.png"
    out.write_bytes(b"previous")
    with monkeypatch.context() as mp:
        failed = disk_full(mp, Figure, "savefig", lambda a: a[1], lambda p, n: True)
        rc, err = run(["plot", str(LANDSCAPE), "-o", str(out), "--overwrite"], capsys)
    assert len(failed) == 1
    assert_write_error(rc, err, str(out), "the previous file is intact")
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]


@pytest.mark.parametrize("failing", ["validation.csv", "paths.png"])
def test_validate_on_a_full_disk_keeps_the_files_already_written(failing, tmp_path, capsys,
                                                                monkeypatch):
    from matplotlib.figure import Figure

    clean = tmp_path / "clean"
    assert run(["validate", str(LANDSCAPE), str(RUNS), "-o", str(clean)], capsys)[0] == 0
    out = tmp_path / "report"
    with monkeypatch.context() as mp:
        if failing == "validation.csv":
            failed = disk_full(mp, Path, "write_bytes", lambda a: a[0],
                               lambda p, n: p.name.startswith(".validation.csv."))
        else:
            failed = disk_full(mp, Figure, "savefig", lambda a: a[1],
                               lambda p, n: p.name.startswith(".paths.png."))
        rc, err = run(["validate", str(LANDSCAPE), str(RUNS), "-o", str(out)], capsys)
    assert len(failed) == 1
    assert_write_error(rc, err, str(out / failing), "no file was written")
    no_temporaries(out)
    order = ["validation.csv", "validation.nc", "t_grok_vs_gamma.png", "paths.png"]
    written = order[:order.index(failing)]
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    for name in written:  # the files finished before the failure are whole
        if name.endswith(".nc"):  # the same but for when and by which command it was made
            with xr.open_dataset(out / name) as a, xr.open_dataset(clean / name) as b:
                xr.testing.assert_identical(a.load().drop_attrs(), b.load().drop_attrs())
        else:
            assert (out / name).read_bytes() == (clean / name).read_bytes(), name


# --------------------------------------------------------------- the writer and its callers
def test_library_errors_of_a_full_disk_become_one_write_error(tmp_path, monkeypatch):
    """netCDF says "HDF error" and torch.save "PytorchStreamWriter failed" on a full disk,
    not OSError: they are write failures too, and the temporary file goes."""
    from reduced_dynamics.testing.synthetic import synthetic_landscape

    def hdf_error(self, target, *args, **kwargs):
        Path(target).write_bytes(b"partial")
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    with pytest.raises(WriteError) as info:
        write_atomic(synthetic_landscape(), tmp_path / "l.nc")
    message = str(info.value)
    assert "RuntimeError: NetCDF: HDF error" in message and "no file was written" in message
    assert "it needs about" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_space_needed_is_estimated_from_the_data(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"x": np.arange(100_000.0)})
    monkeypatch.setattr(Path, "write_bytes", lambda self, data: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    with pytest.raises(WriteError, match=r"it needs about 1\.[0-9] MB"):
        write_csv(frame, tmp_path / "t.csv")  # 100 000 lines of ~12 characters
    with pytest.raises(WriteError, match=r"it needs about 5 B"):
        write_text("hello", tmp_path / "t.txt")
    assert list(tmp_path.iterdir()) == []


WRITERS = {"to_netcdf", "savefig", "to_csv", "write_text", "write_bytes", "savez"}
SAVERS = {"torch", "np", "numpy"}  # torch.save, np.save


def test_every_writer_goes_through_the_atomic_path():
    """No module or example calls a file writer except `io.atomic` (and the checkpoint,
    which calls torch.save inside `atomic_path`); no ``open(..., "w")``."""
    found = []
    for path in sorted([*(ROOT / "reduced_dynamics").rglob("*.py"),
                        *(ROOT / "examples").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if isinstance(func, ast.Attribute) and (name in WRITERS or (name == "save" and
                                                    ast.unparse(func.value) in SAVERS)):
                found.append((rel, ast.unparse(node)[:60]))
            if name == "open" and any(isinstance(a, ast.Constant) and isinstance(
                    a.value, str) and set(a.value) & set("wax") for a in node.args[1:2]):
                found.append((rel, ast.unparse(node)[:60]))
    allowed = {"reduced_dynamics/io/atomic.py", "reduced_dynamics/training/trainer.py"}
    assert [f for f in found if f[0] not in allowed] == []
    trainer = (ROOT / "reduced_dynamics" / "training" / "trainer.py").read_text()
    assert trainer.count("torch.save(") == 1
    assert "with atomic_path(path" in trainer.split("def _save_checkpoint")[1]
