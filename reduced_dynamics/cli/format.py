"""How the CLI writes values, in one place: numbers in tables and summaries (`number`,
`value_text`) and the machine-readable output of ``--json`` (`plain`, `dumps`: plain JSON,
NaN and inf as ``null``)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def number(v: float) -> str:
    """A number in a table: 4 significant digits, ``-`` for NaN or inf."""
    return "-" if not np.isfinite(v) else f"{v:.4g}"


def value_text(v: int | float) -> str:
    """A coordinate value: an integer as it is, a float in ``%g``."""
    return str(v) if isinstance(v, int) else f"{v:g}"


def plain(value: Any) -> Any:
    """``value`` as JSON types: numpy scalars and arrays as numbers and lists, tuples as
    lists, paths as strings, and non-finite floats (NaN, inf) as None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.str_):
        return str(value)
    return value


def dumps(value: Any) -> str:
    """``value`` as indented JSON (`plain` first; anything left that is not JSON raises)."""
    return json.dumps(plain(value), indent=2, allow_nan=False)
