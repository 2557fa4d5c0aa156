"""The grokking threshold of a task (SPEC §12) and event times of logged runs.

One rule for landscapes, predictions and runs: a task config may carry
``grok_threshold`` (a test accuracy, or a test loss when ``grok_on`` is "loss"); without
it grokking is test accuracy ≥ 0.95 (`names.ACC_THRESHOLD`). t_overfit always keeps the
95 % training-accuracy rule.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from reduced_dynamics.names import ACC_THRESHOLD


def task_grok_threshold(task: dict | None) -> tuple[float, str, str]:
    """(threshold, on, where it came from) for a task config dict (``to_dict()``)."""
    value = task.get("grok_threshold") if isinstance(task, dict) else None
    if isinstance(value, (int, float)) and np.isfinite(value) and value > 0:
        on = "loss" if task.get("grok_on") == "loss" else "acc"
        return float(value), on, "the file's config_json task.grok_threshold"
    return ACC_THRESHOLD, "acc", "the default (the file stores no task.grok_threshold)"


def grok_threshold_of(ds: xr.Dataset) -> tuple[float, str, str]:
    """`task_grok_threshold` of the task recorded in a file's ``config_json`` (a landscape
    or a trajectory file)."""
    try:
        task = json.loads(ds.attrs.get("config_json", "{}")).get("task") or {}
    except (TypeError, ValueError, AttributeError):
        task = {}
    return task_grok_threshold(task)


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
