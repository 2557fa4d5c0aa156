"""The package layout: shared names, status codes, what `import reduced_dynamics` pulls in,
and what the engine may import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import reduced_dynamics as rd
from reduced_dynamics.engine import driver
from reduced_dynamics.names import PATH_STATUS_NAMES, PathStatus


def test_path_status_names_are_the_file_strings():
    """The strings written to prediction files stay exactly these, in code order."""
    assert PATH_STATUS_NAMES == ("ok", "left_domain", "max_steps", "no_grok_before_t_max",
                                 "overflow")
    assert [int(s) for s in PathStatus] == list(range(len(PATH_STATUS_NAMES)))
    # the kernels' plain-int constants are the enum's codes
    assert (driver.OK, driver.LEFT_DOMAIN, driver.MAX_STEPS, driver.NO_GROK, driver.OVERFLOW) == (
        PathStatus.OK, PathStatus.LEFT_DOMAIN, PathStatus.MAX_STEPS,
        PathStatus.NO_GROK_BEFORE_T_MAX, PathStatus.OVERFLOW)
    assert all(type(c) is int for c in (driver.OK, driver.NO_GROK, driver.OVERFLOW))


def test_import_needs_neither_torch_nor_matplotlib():
    """Nor numba (loaded before torch it changes torch's rounding); the lazy exports load
    torch-free, and ``rd.validate`` stays the function when the submodule is imported first."""
    code = ("import sys, reduced_dynamics as rd\n"
            "assert not {'torch', 'matplotlib', 'numba'} & set(sys.modules)\n"
            "rd.probe, rd.train, rd.ProbeGrid, rd.TrainConfig, rd.get_task  # lazy, torch-free\n"
            "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\n"
            "from reduced_dynamics.validate import table, validate\n"
            "assert rd.validate is validate\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_top_level_exports_the_pipeline():
    from reduced_dynamics import study
    from reduced_dynamics.config import ProbeConfig, RunSet, TrainConfig
    from reduced_dynamics.engine import prepare
    from reduced_dynamics.io import landscape_file, trajectory_file
    from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape
    from reduced_dynamics.tasks import get_task
    from reduced_dynamics.training.sweep import run_training
    from reduced_dynamics.validate import validate

    expected = {
        "open_landscape": landscape_file.open_landscape,
        "open_trajectories": trajectory_file.open_trajectories,
        "integrate": study.integrate, "analyze_path": study.analyze_path,
        "predict_grokking_times": study.predict_grokking_times, "probe": probe_landscape,
        "prepare_landscape": prepare.prepare_landscape,
        "study_defaults": study.study_defaults,
        "train": run_training, "validate": validate, "ProbeConfig": ProbeConfig,
        "ProbeGrid": ProbeGrid, "TrainConfig": TrainConfig, "RunSet": RunSet,
        "get_task": get_task,
    }
    for name, obj in expected.items():
        assert getattr(rd, name) is obj, name
        assert name in rd.__all__ and name in dir(rd)
    assert all(hasattr(rd, name) for name in rd.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        rd.nonsense  # noqa: B018


def test_engine_exports_its_api_lazily():
    """``reduced_dynamics.engine`` re-exports the engine's API from the modules that define
    it, loaded on first access: a light module of the engine imports no numba."""
    from reduced_dynamics import engine
    from reduced_dynamics.engine import fits, options, parameters, predict, prepare

    expected = {
        "integrate": predict.integrate, "integrate_paired": predict.integrate_paired,
        "predict_grokking_times": predict.predict_grokking_times,
        "analyze_path": predict.analyze_path, "EventOptions": options.EventOptions,
        "SolverOptions": options.SolverOptions, "InterpolantOptions": options.InterpolantOptions,
        "PreparedLandscape": prepare.PreparedLandscape,
        "prepare_landscape": prepare.prepare_landscape, "fit_exponent": fits.fit_exponent,
        "critical_n_train": parameters.critical_n_train,
        "select_n_train": parameters.select_n_train,
    }
    for name, obj in expected.items():
        assert getattr(engine, name) is obj, name
    assert sorted(engine.__all__) == sorted(expected)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        engine.nonsense  # noqa: B018
    code = ("import sys, reduced_dynamics.engine.thresholds\n"
            "assert 'numba' not in sys.modules\n"
            "from reduced_dynamics.engine import EventOptions\n"
            "assert EventOptions().acc_threshold == 0.95\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_io_exports_the_file_functions():
    """``reduced_dynamics.io`` re-exports the open/check/save functions of every file kind
    and the atomic writers from the modules that define them."""
    import reduced_dynamics.io as rio
    from reduced_dynamics.io import (
        atomic,
        datasize_file,
        landscape_file,
        phases_file,
        report_file,
        schema,
        trajectory_file,
    )

    homes = {m.__name__: m for m in (atomic, datasize_file, landscape_file, phases_file,
                                     report_file, schema, trajectory_file)}
    for name in rio.__all__:
        obj = getattr(rio, name)
        home = homes[obj.__module__] if callable(obj) else schema  # constants: the schema's
        assert obj is getattr(home, name), name
    assert {"open_landscape", "open_trajectories", "open_validation", "open_datasize",
            "open_phases", "save_landscape", "save_trajectories", "save_datasize",
            "save_phases", "write_atomic", "file_kind_of"} <= set(rio.__all__)


MAX_MODULE_LINES = 500


def test_every_module_is_under_500_lines():
    """One concept per module: a module that grows past 500 lines holds more than one."""
    package = Path(rd.__file__).parent
    modules = sorted(package.rglob("*.py"))
    assert len(modules) > 50
    sizes = {str(p.relative_to(package)): len(p.read_text(encoding="utf-8").splitlines())
             for p in modules}
    big = {name: n for name, n in sizes.items() if n >= MAX_MODULE_LINES}
    assert not big, f"modules of {MAX_MODULE_LINES} lines or more: {big}"


def _imports(path: Path) -> set[str]:
    """Every module a source file imports, at top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_engine_takes_explicit_arguments():
    """engine/ never looks up the task registry or parses CLI specs, nor needs torch or
    matplotlib: task defaults live in `reduced_dynamics.study`, spec strings in `gridspec`."""
    engine = Path(rd.__file__).parent / "engine"
    files = sorted(engine.glob("*.py"))
    assert len(files) >= 6
    banned = ("reduced_dynamics.tasks", "reduced_dynamics.cli", "torch", "matplotlib")
    for path in files:
        bad = sorted(m for m in _imports(path) if m.startswith(banned))
        assert not bad, f"{path.name} imports {bad}"
    # the task defaults the CLI fills in come from the study layer, shared with the API
    assert "reduced_dynamics.study" in _imports(Path(rd.__file__).parent / "cli" / "engine.py")


def _package_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (top level, in functions, for type checks)."""
    root = Path(rd.__file__).parent
    paths = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {name: {m for m in _imports(path) if m in paths and m != name}
            for name, path in paths.items()}


def test_no_import_cycles():
    """No two modules of the package import each other, directly or through others, lazy
    imports included (issue 17): every strongly connected component is one module."""
    graph = _package_graph()
    assert "reduced_dynamics.batching.sphere" in graph["reduced_dynamics.landscape.probe"]
    assert "reduced_dynamics.batching.step" in graph["reduced_dynamics.batching.sphere"]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_configuration_modules_are_leaves():
    """config.py and checks.py import nothing of the package but each other and errors."""
    root = Path(rd.__file__).parent
    allowed = {"reduced_dynamics.errors", "reduced_dynamics.checks"}
    for name in ("config.py", "checks.py"):
        ours = {m for m in _imports(root / name) if m.startswith("reduced_dynamics")}
        assert {m.rpartition(".")[0] if m not in allowed else m for m in ours} <= allowed, ours


def test_pipeline_steps_do_not_reach_into_each_other():
    """The trainer takes w0 from the task, not from the probe; the probe and the trainer
    know tasks only through the registry and `TorchTask`, never a concrete task module."""
    root = Path(rd.__file__).parent
    concrete = tuple(f"reduced_dynamics.tasks.{p.stem}" for p in (root / "tasks").glob("*.py")
                     if p.stem not in ("__init__", "base"))
    for folder, banned in (("training", ("reduced_dynamics.landscape", *concrete)),
                           ("landscape", ("reduced_dynamics.training", *concrete)),
                           ("batching", ("reduced_dynamics.landscape",
                                         "reduced_dynamics.training", *concrete))):
        for path in sorted((root / folder).glob("*.py")):
            bad = sorted(m for m in _imports(path) if m.startswith(banned))
            assert not bad, f"{folder}/{path.name} imports {bad}"
