"""Issue 18 item 6: odd environments end in one line, never a traceback. Output piped into
a reader that stops early ends quietly (status 141, as a command killed by SIGPIPE); a lock
path that is a folder, or a stale lock that cannot be taken over, is one ``error:`` line
and leaves everything as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_overwrite import PROBE, cli, one_error, state

from reduced_dynamics.io.landscape_file import save_landscape
from reduced_dynamics.testing.synthetic import synthetic_landscape


@pytest.mark.parametrize("argv", [["info", "{l}", "--json"], ["info", "{l}"]],
                         ids=["json", "text"])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, argv):
    path = save_landscape(synthetic_landscape(), tmp_path / "l.nc")
    cmd = [sys.executable, "-m", "reduced_dynamics", *(a.format(l=path) for a in argv)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # the reader is gone before the command writes (`| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


def test_output_into_head_keeps_its_first_lines(tmp_path):
    path = save_landscape(synthetic_landscape(), tmp_path / "l.nc")
    out = subprocess.run(f"{sys.executable} -m reduced_dynamics info {path} --json | head -2",
                         shell=True, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.stdout.splitlines()[0] == "{" and len(out.stdout.splitlines()) == 2
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr


def test_a_lock_path_that_is_a_folder(tmp_path):
    lock = tmp_path / "l.nc.lock"
    lock.mkdir()
    (lock / "keep.txt").write_text("mine")
    rc, _, err = cli([*PROBE, "-o", tmp_path / "l.nc"])
    one_error(rc, err, "lock path", "is a folder", "move it away")
    assert (lock / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.nc.lock"]


def test_a_stale_lock_that_cannot_be_taken_over(tmp_path, monkeypatch):
    import reduced_dynamics.io.lock as lock_module

    out = tmp_path / "l.nc"
    lock = tmp_path / "l.nc.lock"
    import socket

    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname(),
                                "started": "2020-01-01T00:00:00+00:00", "command": "old"}))
    before = state(lock)
    real_rename = os.rename

    def refuse(src, dst, *a, **k):
        if os.fspath(src) == os.fspath(lock):
            raise PermissionError(13, "Permission denied")
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(lock_module.os, "rename", refuse)
    rc, _, err = cli([*PROBE, "-o", out])
    one_error(rc, err, "was left by a command that no longer runs", "cannot be taken over",
              "Permission denied", f"delete {lock}")
    assert state(lock) == before and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.nc.lock"]
