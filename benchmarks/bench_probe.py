"""Batched probe vs a per-point loop, side by side in one run on the same grid and steps.

The loop is what the public Omnigrok notebooks do: one ``nn.Module`` and one Adam per grid
point, a step, then a rescale back onto the sphere. Prints throughput (grid-point x steps
per second), the ratio, the achieved GFLOP/s, and what one large matmul reaches here.

    python benchmarks/bench_probe.py [--points 64] [--steps 300]
"""

from __future__ import annotations

import argparse
import time
from itertools import pairwise

import numpy as np
import torch

from reduced_dynamics.landscape.config import ProbeConfig
from reduced_dynamics.landscape.probe import ToyAdditionTorch, decoder_w0, probe_batch
from reduced_dynamics.models.batched_mlp import reference_mlp
from reduced_dynamics.tasks.toy_addition import preset


def loop_probe(task, w, m, steps, lr):
    """Reference: a separate nn.Module + Adam per point, projected after every step."""
    tt = ToyAdditionTorch(task, torch.float32)
    out = []
    for wk, mk in zip(w, m):
        model = reference_mlp(task.layer_sizes, 0)
        params = list(model.parameters())
        with torch.no_grad():
            scale = wk / torch.sqrt(sum((p**2).sum() for p in params))
            for p in params:
                p.mul_(scale)
        x = tt.inputs(tt.representation(torch.tensor([mk], dtype=torch.float32)), "train")[0]
        y = tt.targets[tt.labels["train"]]
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            with torch.no_grad():
                scale = wk / torch.sqrt(sum((p**2).sum() for p in params))
                for p in params:
                    p.mul_(scale)
        out.append(float(loss))
    return np.array(out)


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    task = preset("paper")
    w0 = decoder_w0(task, 0)
    rng = np.random.default_rng(0)
    w = w0 * np.geomspace(0.1, 100, args.points)
    m = rng.uniform(0, 1, args.points)
    probe = ProbeConfig(steps=args.steps, chunk_size=args.points)
    work = args.points * args.steps
    n_train = task.n_train
    sizes = task.layer_sizes
    flop_per_step = 3 * 2 * n_train * sum(a * b for a, b in pairwise(sizes))

    print(f"toy addition (paper), {args.points} grid points x {args.steps} steps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    probe_batch(task, ProbeConfig(steps=10), w[:4], m[:4], np.zeros(4, int))  # warm-up
    t = time.perf_counter()
    probe_batch(task, probe, w, m, np.zeros(args.points, int))
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    loop_probe(task, w, m, args.steps, probe.lr)
    t_loop = time.perf_counter() - t
    peak = matmul_gflops()
    rows = [("batched (one model, bmm)", t_batched), ("per-point loop (nn.Module + Adam)", t_loop)]
    print(f"{'method':36s} {'seconds':>8s} {'pt*steps/s':>11s} {'GFLOP/s':>8s}")
    for name, secs in rows:
        gflops = work * flop_per_step / secs / 1e9
        print(f"{name:36s} {secs:8.2f} {work / secs:11.0f} {gflops:8.1f}")
    print(f"speed-up batched / loop: {t_loop / t_batched:.1f}x")
    print(f"large fp32 matmul (2048^3) on this machine: {peak:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
