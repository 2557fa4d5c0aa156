"""Batched full runs vs a loop of separate models, side by side in one run.

The sweep is the default study's (6 weight decays x ``--seeds`` seeds, alpha0 = 30,
m0 = 0.05); the loop trains each run as its own nn.Sequential + embedding with
torch.optim.AdamW. Prints runs x steps per second for both and the ratio.

    python benchmarks/bench_trainer.py [--steps 1000]
    # on a GPU (the loop is skipped there), with the CPU batched run as a baseline:
    python benchmarks/bench_trainer.py --device cuda --seeds 100 --cpu-baseline
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reduced_dynamics.batching.devices import device_name, resolve_device, synchronize
from reduced_dynamics.batching.mlp_bmm import reference_mlp
from reduced_dynamics.config import RunSet, TrainConfig
from reduced_dynamics.tasks.base import w0_of
from reduced_dynamics.tasks.toy_addition import preset
from reduced_dynamics.tasks.toy_addition_torch import ToyAdditionTorch
from reduced_dynamics.training.trainer import train_runs


def loop_runs(task, cfg: TrainConfig, runs: RunSet) -> None:
    tt = ToyAdditionTorch(task, torch.float32)
    pr = tt.pairs["train"]
    y = tt.targets[tt.labels["train"]]
    for gamma, seed, alpha0, m0 in zip(runs.gamma, runs.seed, runs.alpha0, runs.m0):
        model = reference_mlp(task.layer_sizes, seed)
        with torch.no_grad():
            norm = torch.sqrt(sum((p**2).sum() for p in model.parameters()))
            for p in model.parameters():
                p.mul_(alpha0 * w0_of(task, seed) / norm)
        rep = tt.representation(torch.tensor([m0]))[0].clone().requires_grad_(True)
        opt = torch.optim.AdamW([
            {"params": model.parameters(), "lr": cfg.eta_d, "weight_decay": gamma},
            {"params": [rep], "lr": cfg.eta_r, "weight_decay": 0.0}])
        for _ in range(cfg.steps):
            opt.zero_grad()
            ((model(rep[pr[:, 0]] + rep[pr[:, 1]]) - y) ** 2).mean().backward()
            opt.step()


def time_batched(task, cfg: TrainConfig, runs: RunSet, device: torch.device) -> float:
    train_runs(task, TrainConfig(steps=5, n_log=2), runs, device=device)  # warm-up
    synchronize(device)
    t = time.perf_counter()
    train_runs(task, cfg, runs, device=device)
    synchronize(device)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per weight decay")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--cpu-baseline", action="store_true",
                        help="also time the batched runs on the CPU (with --device cuda)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    task = preset("paper")
    runs = RunSet.sweep(np.geomspace(0.1, 3.2, 6).tolist(), list(range(args.seeds)), [30.0],
                        [0.05])
    cfg = TrainConfig(steps=args.steps, n_log=min(40, args.steps))
    work = len(runs) * args.steps
    print(f"{len(runs)} runs x {args.steps} steps, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads; {device}: {device_name(device)}")
    rows = [(f"batched on {device.type} (one model, logging included)",
             time_batched(task, cfg, runs, device))]
    cpu = torch.device("cpu")
    if args.cpu_baseline and device.type != "cpu":
        rows.append(("batched on cpu (one model, logging included)",
                     time_batched(task, cfg, runs, cpu)))
    if device.type == "cpu":
        t = time.perf_counter()
        loop_runs(task, cfg, runs)
        rows.append(("loop of nn.Sequential + AdamW (no logging)", time.perf_counter() - t))
    print(f"{'method':45s} {'seconds':>8s} {'runs*steps/s':>13s}")
    for name, secs in rows:
        print(f"{name:45s} {secs:8.2f} {work / secs:13.0f}")
    print(f"speed-up first / second line: {rows[1][1] / rows[0][1]:.1f}x" if len(rows) > 1
          else "")


if __name__ == "__main__":
    main()
