"""The README's "Adding a task" example runs as written: its module block saved as
``sine.py``, then its usage block (a probe and two runs that write their files)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Adding a task"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_adding_a_task_example_runs_and_writes_its_files(tmp_path):
    module, usage = _blocks()[:2]
    assert module.startswith("# sine.py")
    (tmp_path / "sine.py").write_text(module)
    (tmp_path / "use.py").write_text(usage)
    done = subprocess.run([sys.executable, "use.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "sine.nc").is_file() and (tmp_path / "sine_runs.nc").is_file()
    assert "'n_train': 2" in done.stdout and "'run': 2" in done.stdout
