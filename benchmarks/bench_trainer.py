"""Batched full runs vs a loop of separate models, side by side in one run.

The sweep is the default study's (6 weight decays x 2 seeds, alpha0 = 30, m0 = 0.05); the
loop trains each run as its own nn.Sequential + embedding with torch.optim.AdamW. Prints
runs x steps per second for both and the ratio.

    python benchmarks/bench_trainer.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reduced_dynamics.landscape.probe import ToyAdditionTorch, decoder_w0
from reduced_dynamics.models.batched_mlp import reference_mlp
from reduced_dynamics.tasks.toy_addition import preset
from reduced_dynamics.training.config import RunSet, TrainConfig
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
                p.mul_(alpha0 * decoder_w0(task, seed) / norm)
        rep = tt.representation(torch.tensor([m0]))[0].clone().requires_grad_(True)
        opt = torch.optim.AdamW([
            {"params": model.parameters(), "lr": cfg.eta_d, "weight_decay": gamma},
            {"params": [rep], "lr": cfg.eta_r, "weight_decay": 0.0}])
        for _ in range(cfg.steps):
            opt.zero_grad()
            ((model(rep[pr[:, 0]] + rep[pr[:, 1]]) - y) ** 2).mean().backward()
            opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    task = preset("paper")
    runs = RunSet.sweep(np.geomspace(0.1, 3.2, 6).tolist(), [0, 1], [30.0], [0.05])
    cfg = TrainConfig(steps=args.steps, n_log=40)
    work = len(runs) * args.steps
    print(f"{len(runs)} runs x {args.steps} steps, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    train_runs(task, TrainConfig(steps=5, n_log=2), runs)  # warm-up
    t = time.perf_counter()
    train_runs(task, cfg, runs)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    loop_runs(task, cfg, runs)
    t_loop = time.perf_counter() - t
    print(f"{'method':40s} {'seconds':>8s} {'runs*steps/s':>13s}")
    for name, secs in (("batched (one model, logging included)", t_batched),
                       ("loop of nn.Sequential + AdamW (no logging)", t_loop)):
        print(f"{name:40s} {secs:8.2f} {work / secs:13.0f}")
    print(f"speed-up batched / loop: {t_loop / t_batched:.1f}x")


if __name__ == "__main__":
    main()
