"""Names shared by every part of the package: status codes stored in files (torch-free)."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class RunStatus(IntEnum):
    """Outcome of a training run or a probe point (restart): the ``status`` variable.

    DIVERGED: its loss, a gradient or a logged value overflowed (inf/NaN) at step
    ``diverged_step``; it was frozen there, every value from that step on is NaN, and the
    other members of its batch went on exactly as they would have without it.
    """

    OK = 0
    DIVERGED = 1


def flag_attrs(codes: type[IntEnum] = RunStatus) -> dict:
    """CF-1.8 flag attributes of an integer status variable (``flag_values`` is int8, the
    dtype the variable is stored with)."""
    return {"flag_values": np.array([int(c) for c in codes], np.int8),
            "flag_meanings": " ".join(c.name.lower() for c in codes)}
