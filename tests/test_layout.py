"""The package layout: shared names, status codes, what `import reduced_dynamics` pulls in,
and what the engine may import."""

from __future__ import annotations

from reduced_dynamics.engine import dopri
from reduced_dynamics.names import PATH_STATUS_NAMES, PathStatus


def test_path_status_names_are_the_file_strings():
    """The strings written to prediction files stay exactly these, in code order."""
    assert PATH_STATUS_NAMES == ("ok", "left_domain", "max_steps", "no_grok_before_t_max",
                                 "overflow")
    assert [int(s) for s in PathStatus] == list(range(len(PATH_STATUS_NAMES)))
    # the kernels' plain-int constants are the enum's codes
    assert (dopri.OK, dopri.LEFT_DOMAIN, dopri.MAX_STEPS, dopri.NO_GROK, dopri.OVERFLOW) == (
        PathStatus.OK, PathStatus.LEFT_DOMAIN, PathStatus.MAX_STEPS,
        PathStatus.NO_GROK_BEFORE_T_MAX, PathStatus.OVERFLOW)
    assert all(type(c) is int for c in (dopri.OK, dopri.NO_GROK, dopri.OVERFLOW))
