"""The grokking threshold of a task (SPEC §12) and event times of logged runs.

One rule for landscapes, predictions and runs: a task config may carry
``grok_threshold`` (a test accuracy, or a test loss when ``grok_on`` is "loss"); without
it grokking is test accuracy ≥ 0.95 (`names.ACC_THRESHOLD`). t_overfit always keeps the
95 % training-accuracy rule.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from reduced_dynamics.errors import FileCheckError
from reduced_dynamics.io.schema import task_config_of
from reduced_dynamics.names import ACC_THRESHOLD


def _own_threshold(task: object) -> tuple[float, str] | None:
    """(threshold, on) that a task config, or its dict, sets; None when it sets none."""
    def field(name: str) -> object:
        return task.get(name) if isinstance(task, dict) else getattr(task, name, None)

    value = field("grok_threshold")
    if isinstance(value, (int, float)) and np.isfinite(value) and value > 0:
        return float(value), "loss" if field("grok_on") == "loss" else "acc"
    return None


def task_grok_threshold(task: object) -> tuple[float, str]:
    """(threshold, on) of a task config or its dict: its own, else test accuracy 0.95."""
    return _own_threshold(task) or (ACC_THRESHOLD, "acc")


def grok_threshold_of(ds: xr.Dataset) -> tuple[float, str, str]:
    """(threshold, on, where it came from) of the task recorded in a file's
    ``config_json`` (a landscape or a trajectory file): its ``task.grok_threshold``, else
    test accuracy 0.95 when it stores none. A stored threshold that is not usable (NaN,
    <= 0, > 1 on accuracy, not a number) is refused (`FileCheckError`), never replaced."""
    task = task_config_of(ds)  # refuses a stored threshold it cannot use
    own = _own_threshold(task) if task is not None else None
    if own is not None:
        return *own, "the file's config_json task.grok_threshold"
    return ACC_THRESHOLD, "acc", "the default (the file stores no task.grok_threshold)"


def train_threshold_of(ds: xr.Dataset) -> tuple[float, str]:
    """(train-accuracy threshold, where it came from) of the task recorded in a file's
    ``config_json``: its ``task.train_acc_threshold`` (a task whose runs fit at another
    accuracy, e.g. 0.9 for Liu et al. 2022's toy, SPEC §15), else 0.95 (SPEC §12's t_overfit
    rule). A stored value that is not an accuracy in (0, 1] is refused (`FileCheckError`)."""
    task = task_config_of(ds)
    value = None if task is None else task.get("train_acc_threshold")
    if value is None:
        return ACC_THRESHOLD, "the default (the file stores no task.train_acc_threshold)"
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and np.isfinite(value) and 0 < value <= 1)
    if not ok:
        source = ds.encoding.get("source", "<memory>")
        raise FileCheckError(f"file {source}: `task.train_acc_threshold` in attribute "
                             f"`config_json` must be an accuracy in (0, 1], got {value!r}")
    return float(value), "the file's config_json task.train_acc_threshold"


def first_crossing(steps: np.ndarray, values: np.ndarray, threshold: float, *,
                   below: bool = False) -> np.ndarray:
    """Per run (last axis = steps), the first logged step with ``values >= threshold``
    (``below``: ``values <= threshold``); NaN if never."""
    with np.errstate(invalid="ignore"):
        hit = values <= threshold if below else values >= threshold
    first = np.argmax(hit, axis=-1)
    return np.where(hit.any(axis=-1), np.asarray(steps)[first].astype(float), np.nan)


def grok_times(steps: np.ndarray, test_acc: np.ndarray, test_loss: np.ndarray,
               threshold: float, on: str) -> np.ndarray:
    """t_grok per run: first logged step with test_acc ≥ threshold (``on="acc"``) or
    test_loss ≤ threshold (``on="loss"``)."""
    if on == "loss":
        return first_crossing(steps, test_loss, threshold, below=True)
    return first_crossing(steps, test_acc, threshold)


def describe_grok(threshold: float, on: str) -> str:
    """``test_acc >= 0.9`` / ``test_loss <= 0.1``: the grokking event in words."""
    return f"test_acc >= {threshold:g}" if on == "acc" else f"test_loss <= {threshold:g}"
