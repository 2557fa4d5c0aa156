"""The default toy-addition study: full AdamW runs of a γ sweep, validated against the
reduced dynamics on the shipped landscape (issue 4). Runs in ~10 minutes on 2 cores.

    python examples/toy_addition_study.py [--out out/study] [--steps 40000]

Writes OUT/runs.nc (trajectory file), OUT/report/{validation.csv, validation.nc,
t_grok_vs_gamma.png, paths.png}, and prints the validation table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from reduced_dynamics import default_landscape, open_landscape
from reduced_dynamics.gridspec import parse_list
from reduced_dynamics.tasks.toy_addition import preset
from reduced_dynamics.train_config import RunSet, TrainConfig
from reduced_dynamics.train_sweep import run_training
from reduced_dynamics.validate import table, validate, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/study")
    parser.add_argument("--landscape", default=None, help="default: the shipped landscape")
    parser.add_argument("--gamma", default="log:0.1:3.2:6", help="weight decays")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--alpha0", type=float, default=30.0)
    parser.add_argument("--m0", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    landscape_file = args.landscape or default_landscape()
    landscape = open_landscape(landscape_file)
    runs = RunSet.sweep(parse_list("--gamma", args.gamma, minimum=0).tolist(),
                        list(range(args.seeds)), [args.alpha0], [args.m0])
    cfg = TrainConfig(steps=args.steps)
    start = time.perf_counter()
    run_training(preset("paper"), cfg, runs, out / "runs.nc", resume=args.resume,
                 history="examples/toy_addition_study.py")
    t_train = time.perf_counter() - start
    report = validate(landscape, out / "runs.nc")
    print(table(report))
    for path in write_report(report, landscape, out / "report"):
        print(f"wrote {path}")
    print(f"training {len(runs)} runs x {cfg.steps} steps took {t_train:.0f} s; "
          f"whole study {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
