"""The README's two commands, as written, in one clone and in either order (issue 16).

The fast tests check that the commands are what `.ci/run` runs and that numba caches
outside the package; the slow one copies the working tree to a temporary folder and runs
command 1, command 2 (with ``pytest --collect-only``: it must collect the suite, not run it
again), then command 1 again, asserting that ``predict`` prints the same table each time
and that no compiled kernel lands inside the installed package."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> tuple[str, str]:
    """(command 1, command 2): the first two ``python3 -m venv`` lines of the README."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the README starts with a bash block"
    lines = [ln.strip() for ln in block.group(1).splitlines()
             if ln.strip().startswith("python3 -m venv")]
    assert len(lines) >= 2, lines
    return lines[0], lines[1]


def test_ci_runs_exactly_the_readme_test_command():
    _, test_cmd = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci.splitlines()
    assert test_cmd.endswith("&& pytest")
    for cmd in readme_commands():  # each recreates its environment
        assert cmd.startswith("python3 -m venv --clear .venv && . .venv/bin/activate")


def test_numba_caches_in_a_user_folder(tmp_path):
    """No NUMBA_CACHE_DIR: the cache goes to $XDG_CACHE_HOME/reduced_dynamics/numba, never
    into the package; NUMBA_CACHE_DIR set: numba's own setting is kept."""
    code = ("import numba.core.config as c, reduced_dynamics.engine._jit as j; "
            "print(c.CACHE_DIR); print(j.user_cache_dir())")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out[0] == out[1] == str(tmp_path / "xdg" / "reduced_dynamics" / "numba")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out[0] == str(tmp_path / "mine")


def _tree_copy(dest: Path) -> None:
    """The working tree's tracked and unignored files (what a fresh clone plus the
    current changes holds)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _bash(cmd: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -e; {cmd}"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1500)


def _table(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if re.match(r"\s+\d", ln)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the tree")
def test_readme_commands_in_one_clone_in_either_order(tmp_path):
    clone = tmp_path / "clone"
    _tree_copy(clone)
    cmd1, cmd2 = readme_commands()
    collect = cmd2[: -len("pytest")] + "pytest --collect-only -q"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "NUMBA_CACHE_DIR"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # a cold numba cache, as after install

    first = _bash(cmd1, clone, env)
    assert first.returncode == 0, first.stderr[-3000:]
    table = _table(first.stdout)
    assert len(table) >= 5
    assert not list((clone / ".venv").rglob("*.nbi")), "numba cached inside the venv"
    assert list((tmp_path / "cache" / "reduced_dynamics" / "numba").rglob("*.nbi"))

    second = _bash(collect, clone, env)
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    collected = re.search(r"(\d+) tests? collected", second.stdout)
    assert collected and int(collected.group(1)) > 100, second.stdout[-2000:]
    assert "error" not in second.stdout.splitlines()[-1].lower()
    again = _bash(". .venv/bin/activate && reduced-dynamics predict", clone, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _table(again.stdout) == table  # the editable install predicts the same

    third = _bash(cmd1, clone, env)  # command 1 after command 2
    assert third.returncode == 0, third.stderr[-3000:]
    assert _table(third.stdout) == table
