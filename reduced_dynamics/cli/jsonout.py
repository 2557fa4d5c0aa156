"""Machine-readable output of the CLI (``--json``): plain JSON, NaN and inf as ``null``."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


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
