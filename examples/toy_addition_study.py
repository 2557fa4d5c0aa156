"""The default toy-addition study: full AdamW runs of a γ sweep, validated against the
reduced dynamics on the shipped landscape (issue 4). Defaults: the toy-addition task's
study (start alpha0 = 5, m0 = 0.12; gamma log:0.05:1.6:6; seeds 0, 1; 40 000 AdamW steps),
the same start and gammas that `reduced-dynamics predict` uses. About 3.5 minutes here.

    python examples/toy_addition_study.py [--out out/study] [--threads 1]

Writes OUT/runs.nc (trajectory file), OUT/report/{validation.csv, validation.nc,
t_grok_vs_gamma.png, paths.png}, and prints the validation table.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from reduced_dynamics import default_landscape, open_landscape
from reduced_dynamics.config import RunSet
from reduced_dynamics.gridspec import parse_list
from reduced_dynamics.tasks.toy_addition import TASK, preset
from reduced_dynamics.training.sweep import run_training
from reduced_dynamics.validate import table, validate, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/study")
    parser.add_argument("--landscape", default=None, help="default: the shipped landscape")
    parser.add_argument("--gamma", default=None, help="weight decays, a list or grid spec "
                        "(default: the task's study list)")
    parser.add_argument("--seeds", type=int, default=len(TASK.train_seeds))
    parser.add_argument("--alpha0", type=float, default=TASK.alpha0[0])
    parser.add_argument("--m0", type=float, default=TASK.m0)
    parser.add_argument("--steps", type=int, default=TASK.train.steps)
    parser.add_argument("--wd-representation", action="store_true",
                        help="apply the weight decay to the representation too")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (1 when other jobs share the cores)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    landscape_file = args.landscape or default_landscape()
    landscape = open_landscape(landscape_file)
    gammas = (list(TASK.gammas) if args.gamma is None
              else parse_list("--gamma", args.gamma, minimum=0).tolist())
    runs = RunSet.sweep(gammas,
                        list(range(args.seeds)), [args.alpha0], [args.m0])
    cfg = dataclasses.replace(TASK.train, steps=args.steps,
                              wd_representation=args.wd_representation)
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
