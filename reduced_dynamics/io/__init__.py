"""Files: the landscape, trajectory, validation-report, data-size and phase-diagram files
(open, check, write), their shared schema, atomic writing, sweep parts, locks and shipped
data.

One concept per module: `atomic` (write to a temporary file, then rename), `schema` (what
every file shares: provenance, file kind, reading, the common checks), `landscape_file`,
`trajectory_file`, `report_file`, `datasize_file`, `phases_file` (one file kind each),
`parts` (chunks of a resumable sweep), `fingerprint` (what ``--resume`` compares), `lock`
(one writer per output), `resources` (the shipped landscapes). The names below are importable
from here.
"""

from reduced_dynamics.io.atomic import write_atomic, write_csv, write_figure, write_text
from reduced_dynamics.io.datasize_file import check_datasize, open_datasize, save_datasize
from reduced_dynamics.io.landscape_file import (
    check_landscape,
    landscape_dataset,
    open_landscape,
    save_landscape,
)
from reduced_dynamics.io.phases_file import check_phases, open_phases, save_phases
from reduced_dynamics.io.report_file import check_validation, open_validation
from reduced_dynamics.io.schema import (
    FILE_KIND_ATTR,
    FILE_KINDS,
    config_of,
    file_kind_of,
    provenance_attrs,
    read_dataset,
    task_config_of,
)
from reduced_dynamics.io.trajectory_file import (
    check_trajectories,
    open_trajectories,
    save_trajectories,
)

__all__ = [
    "FILE_KINDS",
    "FILE_KIND_ATTR",
    "check_datasize",
    "check_landscape",
    "check_phases",
    "check_trajectories",
    "check_validation",
    "config_of",
    "file_kind_of",
    "landscape_dataset",
    "open_datasize",
    "open_landscape",
    "open_phases",
    "open_trajectories",
    "open_validation",
    "provenance_attrs",
    "read_dataset",
    "save_datasize",
    "save_landscape",
    "save_phases",
    "save_trajectories",
    "task_config_of",
    "write_atomic",
    "write_csv",
    "write_figure",
    "write_text",
]
