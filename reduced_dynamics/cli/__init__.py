"""The `reduced-dynamics` command line: argument parsing, spec strings and task defaults.

Everything that turns strings into explicit arguments lives here; the Python API below it
(`landscape`, `training`, `engine`, `validate`) takes explicit values only.
"""

from reduced_dynamics.cli.main import main

__all__ = ["main"]
