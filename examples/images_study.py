"""Section 4 / Appendix C of Omnigrok on real images (issue 11), on a laptop CPU.

    python examples/images_study.py run      [--out out/images] [--threads 1]
    python examples/images_study.py figures  [--out out/images] [-o docs/figures]

``run`` makes every file with the `reduced-dynamics` commands printed as it goes (each is
skipped when its output exists, and resumable with ``--resume`` when interrupted):

- ``digits_mse.nc``: the (w, N) landscape of digits with MSE (Fig. 3a,b);
- ``digits_rep.nc``: the (w, m) landscape at full N, inputs on R(m) (Fig. 8);
- ``gamma.nc``: alpha0 = 8, N = 300, eight gamma in [0.05, 1], two seeds (Fig. 10b);
- ``sizes.nc``: alpha0 = 1 and 8, gamma = 0.1, seven N in [100, 1500] (Fig. 3d,e);
- ``ce.nc``: cross-entropy, alpha0 = 1 and 100, N = 200 (Fig. 12);
- ``validate_gamma/``, ``validate_sizes/``: predictions against the runs.

``figures`` draws docs/figures/images_*.png from them and prints every number the README
quotes. About 40 minutes on one core of a 2-core laptop.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

LANDSCAPE = ("--alpha log:0.3:30:11 --n-train 30,50,100,150,200,300,500,1000,1500 "
             "--steps 3000 --batch-size 100 --lr-scaling alpha --schedule cosine")
SIZES = "100,150,200,300,500,1000,1500"
GAMMAS = "0.05,0.075,0.1,0.15,0.22,0.33,0.5,1"


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in the order they run."""
    t = f"--threads {threads} -q"
    return [
        (out / "digits_mse.nc", f"probe images --preset digits-mse {LANDSCAPE} {t}"),
        (out / "digits_rep.nc", "probe images --preset digits-rep --alpha log:0.3:30:11 "
         f"--m lin:0:1:6 --steps 3000 --batch-size 100 --lr-scaling alpha "
         f"--schedule cosine {t}"),
        (out / "gamma.nc", f"train images --preset digits-mse --alpha0 8 --gamma {GAMMAS} "
         f"--n-train 300 --seeds 2 --steps 40000 --n-log 400 {t}"),
        (out / "sizes.nc", f"train images --preset digits-mse --alpha0 1,8 --gamma 0.1 "
         f"--n-train {SIZES} --seeds 1 --steps 30000 --n-log 300 {t}"),
        (out / "ce.nc", "train images --preset digits-ce --alpha0 1,100 --gamma 0.1 "
         f"--n-train 200 --seeds 1 --steps 20000 --n-log 200 {t}"),
        (out / "validate_gamma", f"validate {out / 'digits_mse.nc'} {out / 'gamma.nc'}"),
        (out / "validate_sizes", f"validate {out / 'digits_mse.nc'} {out / 'sizes.nc'}"),
    ]


def run(out: Path, threads: int) -> None:
    """Every computation whose output is missing, timed."""
    out.mkdir(parents=True, exist_ok=True)
    for target, command in commands(out, threads):
        if target.exists():
            print(f"have {target}")
            continue
        argv = [sys.executable, "-m", "reduced_dynamics", *shlex.split(command),
                "-o", str(target)]
        print("+ reduced-dynamics " + command + f" -o {target}", flush=True)
        start = time.perf_counter()
        subprocess.run(argv, check=True)
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("run", "figures"))
    parser.add_argument("--out", type=Path, default=Path("out/images"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--figures", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    if args.what == "run":
        run(args.out, args.threads)
    else:
        figures(args.out, args.figures)


def figures(out: Path, folder: Path) -> None:
    raise NotImplementedError


if __name__ == "__main__":
    main()
