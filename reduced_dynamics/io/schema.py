"""What every file of the package shares (SPEC §9): the provenance attributes, the file kind
(`FILE_KIND_ATTR`), reading a netCDF file into memory, and the checks common to every kind
(dims and coordinates, required variables and attributes, ``config_json``, the ``status``
and ``diverged_step`` pair). The kinds: `landscape_file`, `trajectory_file`, `report_file`,
`datasize_file`, `phases_file`.

Divergence (`names.RunStatus`): files from a probe or a training sweep carry ``status``
(int8 codes with CF ``flag_values``/``flag_meanings``) and ``diverged_step`` (NaN: never)
per point or run. With them, NaN is allowed exactly where ``status`` is diverged (for a run:
from its ``diverged_step`` on) and a diverged point is never ``converged``; without them,
the rules are as before (landscape: finite where converged; trajectories: finite).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.errors import FileCheckError
from reduced_dynamics.names import REQUIRED_LANDSCAPE_VARS, RunStatus

REQUIRED_ATTRS = (
    "Conventions",
    "title",
    "task",
    "preset",
    "config_json",
    "w0",
    "package_version",
    "torch_version",
    "date_created",
    "history",
)


FILE_KIND_ATTR = "reduced_dynamics_file"


FILE_KINDS = ("landscape", "trajectory", "validation", "datasize", "phases")
"""Values of `FILE_KIND_ATTR`: what the package writes (a validation report:
`reduced_dynamics.validate.write_report`; a data-size file: `io.datasize_file`; a phase
diagram: `io.phases_file`)."""


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reduced-dynamics")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def provenance_attrs(kind: str, *, title: str, task: str, preset: str, config: dict,
                     w0: float, history: str, torch_version: str) -> dict:
    """The global attributes of SPEC §9 (``REQUIRED_ATTRS``) plus the file kind."""
    return {
        "Conventions": "CF-1.8",
        "title": title,
        "task": task,
        "preset": preset,
        "config_json": json.dumps(config, sort_keys=True),
        "w0": float(w0),
        "package_version": package_version(),
        "torch_version": torch_version,
        "date_created": now_iso(),
        "history": history,
        FILE_KIND_ATTR: kind,
    }


def describe(ds: xr.Dataset) -> str:
    dims = ", ".join(f"{k}={v}" for k, v in ds.sizes.items()) or "none"
    data = ", ".join(sorted(map(str, ds.data_vars))) or "none"
    attrs = ", ".join(sorted(ds.attrs)) or "none"
    return f"The file has dims [{dims}]; variables [{data}]; attributes [{attrs}]."


def read_dataset(path: str | os.PathLike, kind: str) -> xr.Dataset:
    """Open ``path`` fully into memory (the file is closed afterwards)."""
    path = Path(path)
    if not os.path.exists(path):  # os.path: False, not OSError, for an over-long name
        raise FileCheckError(f"{kind} file {path} does not exist")
    if os.path.isdir(path):
        raise FileCheckError(f"{kind} file {path} is a folder, not a netCDF file")
    try:
        ds = xr.open_dataset(path, engine="netcdf4")
    except Exception as exc:  # netCDF4/HDF5 raise many types for a bad file
        raise FileCheckError(
            f"{kind} file {path} could not be read as netCDF ({type(exc).__name__}: {exc}); "
            "is it a file written by reduced-dynamics?"
        ) from None
    try:
        with ds:
            return ds.load()
    except Exception as exc:  # the header read, a chunk did not: damaged data
        raise FileCheckError(
            f"{kind} file {path} is damaged: its data could not be read "
            f"({type(exc).__name__}: {exc}){_checksum_note(path)}; restore it from a copy "
            "or compute it again"
        ) from None


def _checksum_note(path: Path) -> str:
    """``, a Fletcher-32 checksum of `w` fails`` where the variable that cannot be read
    carries one (files of this package do, `io.atomic.CHECKSUM_ENCODING`)."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as nc:
            for name, var in nc.variables.items():
                try:
                    var[...]
                except Exception:
                    checked = (var.filters() or {}).get("fletcher32")
                    return (f", the Fletcher-32 checksum of variable `{name}` fails" if checked
                            else f", variable `{name}` (without a checksum) is unreadable")
    except Exception:  # pragma: no cover - it opened a moment ago
        return ""
    return ""


def _coordinate_problem(ds: xr.Dataset, name: str) -> str | None:
    values = np.asarray(ds[name].values)
    if values.ndim != 1 or values.size == 0:
        return f"coordinate `{name}` must be a non-empty 1-D array"
    if not np.issubdtype(values.dtype, np.number):
        return f"coordinate `{name}` must be numeric, has dtype {values.dtype}"
    if not np.all(np.isfinite(values)):
        return f"coordinate `{name}` contains NaN or inf"
    if values.size > 1 and not np.all(np.diff(values) > 0):
        return f"coordinate `{name}` must be strictly increasing, got {values.tolist()[:8]}"
    return None


def check_common(
    ds: xr.Dataset,
    path: Path,
    kind: str,
    *,
    required_dims: Iterable[str],
    required_vars: Iterable[str],
    required_attrs: Iterable[str] = REQUIRED_ATTRS,
) -> None:
    """Checks shared by every file kind; raises one `FileCheckError` naming file and problem."""

    def fail(problem: str) -> None:
        raise FileCheckError(f"{kind} file {path}: {problem}. {describe(ds)}")

    file_kind = ds.attrs.get(FILE_KIND_ATTR)
    if file_kind is not None and file_kind != kind:
        fail(f"this is a {file_kind} file, not a {kind} file")
    for dim in required_dims:
        if dim not in ds.dims:
            fail(f"dimension `{dim}` is missing")
        if dim not in ds.coords:
            fail(f"coordinate `{dim}` is missing")
    for name in list(ds.dims):
        if name in ds.coords:
            problem = _coordinate_problem(ds, name)
            if problem:
                fail(problem)
    for var in required_vars:
        if var not in ds.data_vars:
            fail(f"required variable `{var}` is missing")
    for attr in required_attrs:
        if attr not in ds.attrs:
            fail(f"global attribute `{attr}` is missing")
    if "config_json" in ds.attrs:
        problem = _config_problem(ds.attrs["config_json"])
        if problem:
            fail(problem)


def check_status(ds: xr.Dataset, fail: Callable[[str], None], dims: tuple[str, ...]
                  ) -> xr.DataArray | None:
    """Check the ``status`` (`RunStatus` codes) and ``diverged_step`` pair, if present.

    Returns where ``status`` is diverged (None for a file without it)."""
    present = [n for n in ("status", "diverged_step") if n in ds.data_vars]
    if not present:
        return None
    if len(present) == 1:
        fail(f"variable `{present[0]}` is present without "
             f"`{'diverged_step' if present[0] == 'status' else 'status'}`")
    status, step = ds["status"], ds["diverged_step"]
    for var in (status, step):
        if var.dims != tuple(dims):
            fail(f"variable `{var.name}` must have dims {tuple(dims)}, has {var.dims}")
    if not np.issubdtype(status.dtype, np.integer):
        fail(f"variable `status` must be integer codes, has dtype {status.dtype}")
    if not np.issubdtype(step.dtype, np.floating):
        fail(f"variable `diverged_step` must be floating point, has dtype {step.dtype}")
    unknown = sorted(set(np.unique(status.values).tolist()) - {int(c) for c in RunStatus})
    if unknown:
        fail(f"variable `status` has unknown codes {unknown}; known: "
             f"{ {c.name.lower(): int(c) for c in RunStatus} }")
    diverged = status == RunStatus.DIVERGED
    s = step.values
    if np.any(diverged.values & ~(np.isfinite(s) & (s >= 0))):
        fail("variable `diverged_step` must be a step >= 0 where `status` is diverged")
    if np.any(~diverged.values & ~np.isnan(s)):
        fail("variable `diverged_step` must be NaN where `status` is ok")
    return diverged


def _config_problem(text: object) -> str | None:
    """What is wrong with a ``config_json`` attribute, or None: it must be a JSON object,
    its ``task`` (if any) an object, and a stored grokking threshold usable
    (`grok_threshold_problem`)."""
    try:
        config = json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        return f"attribute `config_json` is not valid JSON ({exc})"
    if not isinstance(config, dict):
        return (f"attribute `config_json` must be a JSON object ({{...}}), got a "
                f"{type(config).__name__}: {str(text)[:60]!r}")
    task = config.get("task")
    if task is None:
        return None
    if not isinstance(task, dict):
        return f"`task` in attribute `config_json` must be a JSON object, got {task!r:.60}"
    return grok_threshold_problem(task)


def grok_threshold_problem(task: dict) -> str | None:
    """What is wrong with the ``grok_threshold`` (and ``grok_on``) a stored task config
    holds, or None (none stored is fine). A threshold on test accuracy must be a number in
    (0, 1]; on test loss (``grok_on`` "loss") a finite number > 0."""
    on = task.get("grok_on")
    if on is not None and on not in ("acc", "loss"):
        return f"`task.grok_on` in attribute `config_json` must be 'acc' or 'loss', got {on!r}"
    value = task.get("grok_threshold")
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(
        value) and value > 0 and (on == "loss" or value <= 1)
    if ok:
        return None
    want = ("a finite test loss > 0" if on == "loss"
            else "a test accuracy in (0, 1] (e.g. 0.9)")
    return f"`task.grok_threshold` in attribute `config_json` must be {want}, got {value!r}"


def config_of(ds: xr.Dataset) -> dict:
    """The task and probe configuration stored in ``config_json``."""
    return json.loads(ds.attrs["config_json"])


def task_config_of(ds: xr.Dataset) -> dict | None:
    """The task config inside ``config_json``; None when the file records none.
    `FileCheckError` naming the file when ``config_json`` is not a JSON object, its
    ``task`` not an object, or its grokking threshold not usable (`_config_problem`):
    nothing is substituted for what a file stores."""
    text = ds.attrs.get("config_json", "{}")
    problem = _config_problem(text)
    if problem:
        source = ds.encoding.get("source", "<memory>")
        raise FileCheckError(f"file {source}: {problem}")
    task = json.loads(text).get("task")
    return task if isinstance(task, dict) else None


def file_kind_of(ds: xr.Dataset, path: str | os.PathLike = "<memory>") -> str:
    """What a file of ours is, one of `FILE_KINDS`: its `FILE_KIND_ATTR`, else (a file
    written before it carried one) told by its contents: ``t_grok_predicted`` a validation
    report, dims ``run`` and ``step`` a trajectory file, dim ``w`` or a landscape variable
    a landscape. `FileCheckError` saying what it is not for anything else."""
    kind = ds.attrs.get(FILE_KIND_ATTR)
    if kind is not None:
        if kind in FILE_KINDS:
            return str(kind)
        raise FileCheckError(f"file {path}: its `{FILE_KIND_ATTR}` attribute is {kind!r}, "
                             f"not a kind reduced-dynamics writes {list(FILE_KINDS)}. "
                             f"{describe(ds)}")
    if "t_grok_predicted" in ds.data_vars:
        return "validation"
    if {"run", "step"} <= set(ds.dims):
        return "trajectory"
    if "w" in ds.dims or set(REQUIRED_LANDSCAPE_VARS) & set(map(str, ds.data_vars)):
        return "landscape"
    if "member" in ds.dims and "chunk" in ds.attrs:
        what = (f"a part file (chunk {ds.attrs['chunk']}) of an unfinished probe or train "
                "sweep, not a landscape, trajectory file or validation report: the command "
                "that wrote it merges its parts into its output (rerun it with --resume)")
    else:
        what = ("not a landscape (no dim `w`), a trajectory file (no dims `run` and `step`) "
                "nor a validation report (no variable `t_grok_predicted`) of "
                f"reduced-dynamics, and has no `{FILE_KIND_ATTR}` attribute naming a kind")
    raise FileCheckError(f"file {path} is {what}. {describe(ds)}")
