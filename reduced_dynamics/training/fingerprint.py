"""What determines the numbers of a training sweep: its resume fingerprint (torch-free)."""

from __future__ import annotations

from reduced_dynamics.config import RunSet, TrainConfig
from reduced_dynamics.io.fingerprint import job_fingerprint
from reduced_dynamics.tasks import task_of


def train_fingerprint(task, cfg: TrainConfig, runs: RunSet, *, torch_threads: int,
                      chunk_size: int | None = None, device: str = "cpu",
                      device_name: str | None = None) -> dict:
    """Everything that determines the numbers of a training sweep
    (`io.fingerprint.job_fingerprint`): task, training settings (steps, rates, logging
    grid, dtype; not ``checkpoint_every``), the runs (gamma, seed, alpha0, m0), the chunk
    size (None: all runs in one model), the torch threads and the device (and its name,
    `batching.devices.device_record`)."""
    train = {k: v for k, v in cfg.to_dict().items() if k != "checkpoint_every"}
    named = {} if device_name is None else {"device_name": device_name}
    return job_fingerprint(f"{task_of(task).name} train", torch_threads=torch_threads,
                           device=device, task=task.to_dict(), train=train,
                           runs=runs.to_dict(), chunk_size=chunk_size, **named)
