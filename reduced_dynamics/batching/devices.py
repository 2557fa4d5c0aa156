"""Where the members run: device names from the CLI, what files record of a device, and the
device-specific settings of the probe and the trainer (torch)."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator

import torch

from reduced_dynamics.errors import InputError

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | torch.device | None = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"auto"`` (CUDA where available)."""
    text = "cpu" if device is None else str(device)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text != "cpu" and not text.startswith("cuda"):
        raise InputError(f"`device` must be one of {list(DEVICES)} (or cuda:N), got {text!r}")
    try:
        resolved = torch.device(text)
    except RuntimeError:
        raise InputError(f"`device` must be one of {list(DEVICES)} (or cuda:N), got "
                         f"{text!r}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"`device` {text!r}: CUDA is not available here (torch "
                             f"{torch.__version__}); use --device cpu or --device auto")
        index = resolved.index or 0
        if index >= torch.cuda.device_count():
            raise InputError(f"`device` {text!r}: only {torch.cuda.device_count()} CUDA "
                             "device(s) here")
    return resolved


@contextlib.contextmanager
def flushed_denormals(device: torch.device) -> Iterator[None]:
    """On the CPU, flush subnormal floats to zero while the block runs (restored after).

    Adam's second moments of the gradients at small norms (alpha ~ 0.1 on toy addition) fall
    below float32's smallest normal number, and subnormal arithmetic made the probe 9x slower
    there (155 vs 1 370 point-steps/s, 2 000 steps; the training losses agreed to every
    printed digit). No effect on CUDA devices, which do not trap on subnormals."""
    if device.type != "cpu":
        yield
        return
    before = torch.set_flush_denormal(True)  # returns whether the CPU supports it
    try:
        yield
    finally:
        if before:
            torch.set_flush_denormal(False)


def device_name(device: torch.device) -> str:
    """The card's name (``torch.cuda.get_device_name``) or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def device_record(device: torch.device) -> dict[str, str]:
    """What ``config_json`` and resume fingerprints record of the device."""
    return {"device": str(device), "device_name": device_name(device)}


def adam_options(device: torch.device) -> dict:
    """Adam's implementation for ``device``: the fused kernel on CUDA (one pass over the
    parameters instead of ~10; the numbers differ from the CPU's at rounding level anyway),
    torch's default on the CPU (which the shipped landscapes were computed with)."""
    return {"fused": True} if device.type == "cuda" else {}


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (timings); nothing on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


GLIBC_MMAP_THRESHOLD_MAX = 32 << 20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc


def keep_on_heap(nbytes: int) -> None:
    """Raise glibc's dynamic mmap threshold to ``nbytes`` (at most 32 MiB) by freeing a
    block of that size once (and with it the trim threshold, to twice that).

    Blocks above the threshold (128 KiB at start) are mmapped and unmapped again when freed,
    and free memory above the trim threshold at the top of the heap is returned to the OS,
    so every step's gradients and Adam temporaries (B x the largest layer) would fault their
    pages in afresh. glibc raises both thresholds when a mmapped block is freed; this does
    so on purpose. Measured on the toy probe (64 members, 2 threads): 40 % slower
    without it. (The pre-redesign code got it by accident, freeing a float64 copy of the
    parameters.) Harmless elsewhere: one allocation.
    """
    nbytes = min(int(nbytes), GLIBC_MMAP_THRESHOLD_MAX - (1 << 20))  # a block's overhead
    # must stay within the maximum, or glibc leaves the thresholds as they are
    if nbytes > 0 and platform.system() == "Linux":
        block = torch.empty(nbytes, dtype=torch.uint8)
        del block
