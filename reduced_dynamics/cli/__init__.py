"""The `reduced-dynamics` command line (`cli.main.main`): argument parsing and output.

Everything that turns strings into explicit arguments lives here (grid specs in
`reduced_dynamics.gridspec`, the task's study defaults in `reduced_dynamics.study`); the
Python API below it (`landscape`, `training`, `engine`, `validate`) takes explicit values.
"""
