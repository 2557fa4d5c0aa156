"""Tasks as plugins: the registry's rules, typed study defaults, and a task from a
separately installed package (entry-point group ``reduced_dynamics.tasks``) that the CLI
lists and probes."""

from __future__ import annotations

import dataclasses
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reduced_dynamics.errors import InputError
from reduced_dynamics.tasks import BUILTIN, REGISTRY, get_task, register

PLUGIN = '''
from dataclasses import asdict, dataclass

import torch

from reduced_dynamics.config import ProbeConfig
from reduced_dynamics.models.mlp import MLP
from reduced_dynamics.tasks.base import TaskEntry, TorchTask, example_mean
from reduced_dynamics.config import TrainConfig


@dataclass(frozen=True)
class LineConfig:
    preset: str = "small"
    n: int = 16
    positively_homogeneous = False

    def to_dict(self):
        return asdict(self)


class LineTorch(TorchTask):
    def __init__(self, config, dtype=None, device="cpu"):
        super().__init__(config, dtype, device)
        x = torch.linspace(-1, 1, 2 * config.n, dtype=torch.float64)[:, None]
        self.x = {"train": self.tensor(x[::2]), "test": self.tensor(x[1::2])}

    def new_module(self):
        return MLP((1, 8, 1), "tanh")

    def n_examples(self, split):
        return len(self.x[split])

    def inputs(self, rep, split, index=None):
        return self.x[split] if index is None else self.x[split][index]

    def _err(self, pred, split, index):
        return (pred - 0.5 * self.inputs(None, split, index)).pow(2).mean(-1)

    def loss(self, pred, split, index=None, weight=None):
        return example_mean(self._err(pred, split, index), weight)

    def accuracy(self, pred, split, index=None, weight=None):
        return example_mean((self._err(pred, split, index) < 1e-2).to(pred.dtype), weight)


TASK = TaskEntry(name="line-plugin", description="y = x / 2 from a plugin package",
                 config_type=LineConfig, presets={"small": LineConfig()},
                 adapter="lineplugin:LineTorch", has_m=False,
                 probe_presets={"small": ProbeConfig(steps=20)},
                 train=TrainConfig(steps=20, n_log=4, eta_r=0), probe_seeds=(0,),
                 train_seeds=(0,), alpha0=(1.0,))
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "lineplugin"
version = "0.1"

[project.entry-points."reduced_dynamics.tasks"]
line-plugin = "lineplugin:TASK"
broken-plugin = "lineplugin:NO_SUCH_TASK"
'''


def test_register_refuses_a_second_task_of_the_same_name():
    entry = get_task("toy-addition")
    assert register(entry) is entry  # the same entry again: a no-op
    twin = dataclasses.replace(entry, description="another toy addition")
    with pytest.raises(InputError, match="a task named 'toy-addition' is already registered"):
        register(twin)
    assert REGISTRY["toy-addition"] is entry
    with pytest.raises(InputError, match="takes a TaskEntry"):
        register("toy-addition")  # type: ignore[arg-type]


def test_task_entries_have_typed_study_defaults():
    for entry in REGISTRY.values():
        assert isinstance(entry.alpha0, tuple) and all(type(a) is float for a in entry.alpha0)
        assert isinstance(entry.gammas, tuple) and all(type(g) is float for g in entry.gammas)
    toy = get_task("toy-addition")
    assert toy.alpha0 == (5.0,) and toy.gammas[0] == 0.05 and len(toy.gammas) == 6
    with pytest.raises(InputError, match="must be a number or a sequence of numbers"):
        dataclasses.replace(toy, name="x", gammas="log:0.1:1:3")
    with pytest.raises(InputError, match=r"`TaskEntry\('x'\).alpha0` must be numbers > 0"):
        dataclasses.replace(toy, name="x", alpha0=(1.0, 0.0))


def test_builtin_tasks_come_from_the_entry_points():
    """The installed package declares its own tasks in the entry-point group, in order."""
    from importlib.metadata import entry_points

    declared = {ep.name: ep.value for ep in entry_points(group="reduced_dynamics.tasks")}
    assert {k: declared.get(k) for k in BUILTIN} == BUILTIN
    assert list(REGISTRY)[:len(BUILTIN)] == list(BUILTIN)


@pytest.mark.slow
def test_a_plugin_package_installed_in_a_venv_is_listed_and_probed(tmp_path):
    """A separately installed package with an entry point: `probe --help` lists its task,
    `probe line-plugin` writes its landscape; a broken entry point is skipped with one
    warning and breaks nothing."""
    pkg = tmp_path / "pkg"
    (pkg / "lineplugin").mkdir(parents=True)
    (pkg / "lineplugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (pkg / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    # this environment's packages (reduced_dynamics, torch, ...) under the new venv's own
    (Path(purelib) / "parent.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages()))
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                          "--no-build-isolation", str(pkg)], capture_output=True, text=True,
                         timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    cli = "from reduced_dynamics.cli.main import main; raise SystemExit(main())"
    helped = subprocess.run([py, "-c", cli, "probe", "--help"], capture_output=True,
                            text=True, timeout=300)
    assert helped.returncode == 0, helped.stderr[-2000:]
    text = " ".join(helped.stdout.split())
    assert "line-plugin: y = x / 2 from a plugin package (presets: small)" in text
    assert ("task name: toy-addition, teacher-student, images, modular-addition, text, "
            "molecules, line-plugin") in text
    assert helped.stderr.count("warning: task plugin 'broken-plugin'") == 1
    out = tmp_path / "line.nc"
    probed = subprocess.run([py, "-c", cli, "probe", "line-plugin", "--alpha", "0.5,1,2",
                             "--threads", "1", "-q", "-o", str(out)], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path)
    assert probed.returncode == 0, probed.stderr[-2000:]
    assert f"wrote {out}: 3 w" in probed.stdout
    info = subprocess.run([py, "-c", cli, "info", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert "task: line-plugin  preset: small" in info.stdout
    assert "line-plugin" not in REGISTRY  # this process never saw the plugin



def test_task_entry_refuses_a_config_without_the_protocol():
    """A preset must say whether its model is positively homogeneous (no fake fields)."""

    from dataclasses import asdict, dataclass

    from reduced_dynamics.config import ProbeConfig, TrainConfig
    from reduced_dynamics.tasks.base import TaskEntry

    @dataclass(frozen=True)
    class Bare:
        preset: str = "x"

        def to_dict(self):
            return asdict(self)

    kwargs = dict(name="bare", description="d", config_type=Bare, adapter="m:C", has_m=False,
                  probe_presets={"x": ProbeConfig()}, train=TrainConfig(), probe_seeds=(0,),
                  train_seeds=(0,))
    with pytest.raises(InputError, match="lacks positively_homogeneous"):
        TaskEntry(presets={"x": Bare()}, **kwargs)
    with pytest.raises(InputError, match=r"presets` must hold configs of .* for preset 'x'"):
        TaskEntry(presets={"x": "x"}, **kwargs)


def test_positively_homogeneous_is_the_models_property():
    """ReLU MLPs are, tanh students, liu2022's tanh decoder and transformers are not:
    nothing reads an activation."""
    from reduced_dynamics.tasks import get_task

    expected = {"toy-addition": True, "images": True, "teacher-student": False,
                "modular-addition": False, "text": False}
    for name, value in expected.items():
        for key, config in get_task(name).presets.items():
            tanh = (name, key) == ("toy-addition", "liu2022")
            assert config.positively_homogeneous is (value and not tanh), (name, key)
    toy = get_task("toy-addition")
    assert toy.preset(activation="leaky_relu").positively_homogeneous is True
    ts = get_task("teacher-student")
    assert ts.preset(activation="relu").positively_homogeneous is True
    assert "activation" not in get_task("modular-addition").preset().to_dict()
