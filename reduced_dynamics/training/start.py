"""Where a training run starts (SPEC §13), torch-free: the settings of the relaxed start.

``start="relaxed"``: before step 0 the decoder θ of each run is minimised at fixed norm
α0·w0 with the probe's own constrained optimiser (`batching.sphere.minimise_on_sphere`) and
the task's probe preset for its preset, in the run's dtype, the representation frozen at
R(m0). Those steps are not training steps (the log's step 0 is the relaxed state); they
are recorded (``config_json``, the global attributes ``start`` and ``relax_steps``).
"""

from __future__ import annotations

import dataclasses

from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.tasks import task_of


def relax_probe(task, cfg: TrainConfig) -> ProbeConfig:
    """The probe settings of the relaxation of runs of ``task`` under ``cfg``: the task's
    probe preset (`TaskEntry.probe_preset` of the task's preset), ``cfg.relax_steps``
    steps where given, the run's dtype."""
    probe = task_of(task).probe_preset(task.preset)
    steps = probe.steps if cfg.relax_steps is None else cfg.relax_steps
    return dataclasses.replace(probe, steps=steps, dtype=cfg.dtype)


def start_attrs(task, cfg: TrainConfig) -> dict[str, str | int]:
    """The global attributes of a trajectory file that say where its runs started."""
    if cfg.start == "init":
        return {"start": "init", "relax_steps": 0}
    return {"start": "relaxed", "relax_steps": relax_probe(task, cfg).steps}
