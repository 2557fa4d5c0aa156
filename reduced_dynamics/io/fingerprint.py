"""What a resumable job is: the configuration that determines its numbers.

A probe or a training sweep stores its fingerprint with its finished work (``sweep.json``
beside the parts, or inside the checkpoint). ``--resume`` compares it with the fingerprint
of the command now and refuses any difference, naming every differing field by its dotted
path (``train.steps``) with both values: work computed under one configuration must never
be relabelled as another's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reduced_dynamics.errors import InputError

MISSING = "<not recorded>"
_SHOWN = 80  # characters of a value shown in a message


def job_fingerprint(kind: str, *, torch_threads: int, device: str = "cpu",
                    **sections: Any) -> dict:
    """The fingerprint of a job: its ``kind`` (e.g. "toy-addition probe"), the torch thread
    count and device it computes with (both change the rounding), and the configuration
    ``sections`` (task, probe or train settings, grid or runs, chunk size), as plain JSON."""
    fp = {"kind": kind, "torch_threads": int(torch_threads), "device": device, **sections}
    return _plain(fp)


def _plain(value: Any) -> Any:
    """``value`` as plain JSON types (numpy scalars and tuples become numbers and lists)."""

    def scalar(v: Any) -> Any:
        if hasattr(v, "item"):
            return v.item()
        raise TypeError(f"not JSON-serialisable: {type(v).__name__}")

    return json.loads(json.dumps(value, sort_keys=True, default=scalar))


def config_diff(stored: Any, now: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf where two nested configs differ: ``(dotted.path, stored, now)``.

    Dicts are compared key by key (a key present on one side only shows `MISSING` on the
    other); anything else (numbers, strings, lists) is compared as a whole value.
    """
    if isinstance(stored, dict) and isinstance(now, dict):
        out = []
        for key in sorted(set(stored) | set(now), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += config_diff(stored.get(key, MISSING), now.get(key, MISSING), sub)
        return out
    return [] if _same(stored, now) else [(path or "<whole>", stored, now)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _show(value: Any) -> str:
    text = value if value == MISSING else json.dumps(value)
    if isinstance(value, list) and len(text) > _SHOWN:
        text = f"{text[:_SHOWN]}... ({len(value)} values)"
    return text


def describe_diff(diff: list[tuple[str, Any, Any]]) -> str:
    """``a.b (stored 1, now 2), c (stored [..], now [..])``; for long lists of equal length,
    the first index where they differ."""
    parts = []
    for path, old, new in diff:
        text = f"{path} (stored {_show(old)}, now {_show(new)})"
        if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            first = next(i for i, (x, y) in enumerate(zip(old, new)) if not _same(x, y))
            if len(json.dumps(old)) > _SHOWN:
                text = (f"{path} (first difference at [{first}]: stored {_show(old[first])}, "
                        f"now {_show(new[first])})")
        parts.append(text)
    return ", ".join(parts)


def check_resume(stored: dict | None, now: dict, what: str, where: str | Path) -> None:
    """Refuse to resume ``what`` (e.g. "the finished chunks in X.parts belong to a different
    sweep") unless the stored fingerprint equals ``now``; the message lists every
    differing field with both values."""
    if stored is None:
        raise InputError(f"--resume: {what} carries no fingerprint (written by an older "
                         f"version), so it cannot be checked against this command; delete "
                         f"{where} to start afresh")
    diff = config_diff(stored, _plain(now))
    if diff:
        raise InputError(f"--resume: {what}; {len(diff)} setting(s) differ: "
                         f"{describe_diff(diff)}; rerun with the original settings, or "
                         f"delete {where} to start afresh")
