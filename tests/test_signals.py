"""A terminated command (SIGTERM) behaves like an interrupted one."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")


def test_sigterm_releases_the_output_lock(tmp_path):
    """`timeout` (SIGTERM) during a train: the lock is gone and --resume continues."""
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
        time.sleep(0.1)
    assert lock.exists()
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not lock.exists()
