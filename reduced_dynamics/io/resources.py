"""Shipped landscapes, found in the installed package (editable or not)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from reduced_dynamics.errors import FileCheckError

DEFAULT_LANDSCAPE = "toy_addition_paper.nc"


def landscape_path(name: str = DEFAULT_LANDSCAPE) -> Path:
    """Path of a shipped landscape file, e.g. ``toy_addition_paper.nc``."""
    candidates = []
    try:
        candidates.append(Path(str(resources.files("reduced_dynamics.landscapes") / name)))
    except ModuleNotFoundError:
        pass
    candidates.append(Path(__file__).resolve().parent.parent / "landscapes" / name)
    for path in candidates:
        if path.is_file():
            return path
    raise FileCheckError(f"shipped landscape {name!r} not found (looked in "
                         f"{[str(c) for c in candidates]}); reinstall the package or pass a file")


def default_landscape() -> Path:
    """The landscape `reduced-dynamics predict` uses when given none."""
    return landscape_path(DEFAULT_LANDSCAPE)
