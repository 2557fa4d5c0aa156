"""Output paths of the CLI: checked before any work, figures saved atomically.

An existing output is replaced only with ``--overwrite`` (`add_overwrite`). ``-o NAME`` of a
figure command: a NAME ending in an image suffix matplotlib can write
(.png, .pdf, .svg, .jpg, ...) is written exactly; any other NAME gets ``.png`` appended, and
the command says so ("wrote fig.png (added .png ...)").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reduced_dynamics.errors import InputError
from reduced_dynamics.io.atomic import write_figure
from reduced_dynamics.io.lock import check_output


def image_suffixes() -> tuple[str, ...]:
    """File suffixes (without the dot) that matplotlib can save a figure as."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))


def figure_output(name: str, value: str, *, inputs: tuple[str, ...] = (),
                  overwrite: bool = False) -> tuple[Path, str]:
    """(path to write, note for the "wrote" line) for a figure option ``name``; refuses a
    path that cannot be written (`io.lock.check_output`), or an existing file unless
    ``overwrite``, before any work is done."""
    if not value.strip():
        raise InputError(f"`{name}` must be a file name, got {value!r}")
    if os.path.isdir(value):
        raise InputError(f"`{name}`: {value!r} is an existing folder; give a file name, e.g. "
                         f"{os.path.join(value, 'figure.png')!r}")
    # the name as given too: `-o L.nc` of `plot L.nc` would write L.nc.png, but is a slip
    path = check_output(value, None, inputs=inputs, option=name, overwrite=True)
    note = ""
    if path.suffix.lower().lstrip(".") not in image_suffixes():
        path = path.with_name(path.name + ".png")
        note = (f" (added .png: {value!r} has no image suffix; end it in .png, .pdf or .svg "
                "to choose the format)")
    return check_output(path, None, inputs=inputs, option=name, overwrite=overwrite), note


def add_overwrite(p: Any, what: str = "output image") -> None:
    """The ``--overwrite`` flag of a command that writes ``what``."""
    p.add_argument("--overwrite", action="store_true", help=f"replace an existing {what} "
                   "(without it an existing file is refused)")


def save_figure(fig: Any, path: Path, note: str = "") -> str:
    """Write ``fig`` atomically; returns the line to print."""
    write_figure(fig, path)
    return f"wrote {path}{note}"
