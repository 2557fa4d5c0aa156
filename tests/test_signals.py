"""SIGTERM (``timeout``, a scheduler's time limit) ends a command like Ctrl-C."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")


@pytest.mark.parametrize("delay", [0.0, 0.5, *(pytest.param(d, marks=pytest.mark.slow)
                                               for d in (0.25, 0.75, 1.0))])
def test_sigterm_releases_the_output_lock(tmp_path, delay):
    """`timeout` (SIGTERM) during a train, at several moments after the output is locked
    (0.5 s was inside torch's lazy import of its compiler, which once made the interpreter
    exit with SIGINT's status): exit 130, the message, and the lock is gone."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "runs.nc"
    cmd = [sys.executable, "-m", "reduced_dynamics", "train", "toy-addition", "--steps",
           "200000", "--gamma", "0.1", "--seeds", "1", "-q", "-o", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "runs.nc.lock"
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.01)
    assert lock.exists()
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not lock.exists()
