"""What the study scripts share: running `reduced-dynamics` commands once, run curves,
delay and exponent tables. Imported by the scripts next to it (not part of the package)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.engine.fits import fit_exponent


def run_commands(commands: list[tuple[Path, str]]) -> None:
    """Run each ``reduced-dynamics`` command whose output is missing, printed and timed.

    An interrupted probe/train keeps its parts or checkpoint; rerunning the script resumes
    it (``--resume`` is added when the output's parts or checkpoint exist)."""
    for target, command in commands:
        if target.exists():
            print(f"have {target}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        argv = [*shlex.split(command), "-o", str(target)]
        kept = [target.with_name(target.name + s) for s in (".parts", ".ckpt")]
        if any(p.exists() for p in kept) and argv[0] in ("probe", "train"):
            argv.append("--resume")
        print("+ reduced-dynamics " + shlex.join(argv), flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reduced_dynamics", *argv], check=True)
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)


REPO = Path(__file__).resolve().parents[1]


def find(out: Path, name: str) -> Path:
    """``out/name``, else the shipped ``landscapes/name`` (figures from shipped files)."""
    for path in (out / name, REPO / "landscapes" / name):
        if path.exists():
            return path
    raise SystemExit(f"{name} is neither in {out} nor in {REPO / 'landscapes'}: run the "
                     "script's `run` step first")


def report(out: Path, landscape: str, runs: str, start: str = "init") -> xr.Dataset:
    """The `validate` report of ``runs`` against ``landscape`` (seconds; the `run` step
    also writes it with its table, CSV and figures)."""
    from reduced_dynamics.validate import validate

    return validate(find(out, landscape), find(out, runs), start=start)


def curves(ax, run: xr.Dataset, w0: float, title: str) -> None:
    """Train/test accuracy and w/w0 of one run over log steps (Fig. 3d, 7)."""
    step = run["step"].values
    pos = step > 0
    ax.plot(step[pos], run["train_acc"].values[pos], label="train acc")
    ax.plot(step[pos], run["test_acc"].values[pos], label="test acc")
    ax.plot(step[pos], run["w"].values[pos] / w0, "k--", label="w / w0")
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="center left", fontsize=8)


def delay_line(run: xr.Dataset, label: str) -> str:
    """``label: 95 % train at A, test threshold at B, delay B - A`` for one run."""
    t_of, t_gr = float(run["t_overfit"]), float(run["t_grok"])
    delay = t_gr - t_of if np.isfinite(t_gr) and np.isfinite(t_of) else float("nan")
    def fmt(v):
        return ("never" if not np.isfinite(v) else f"{v:.0f}")
    return (f"{label}: 95 % train at {fmt(t_of)}, test threshold at {fmt(t_gr)}, "
            f"delay {fmt(delay)} steps; final test acc {float(run['test_acc'][-1]):.3f}")


def exponent_lines(gamma: np.ndarray, t: np.ndarray, seed: np.ndarray,
                   ranges: list[tuple[float, float]]) -> list[str]:
    """Fits ln t = c + p ln γ over each γ range: all seeds pooled, and per seed."""
    lines = []
    for lo, hi in ranges:
        keep = (gamma >= lo) & (gamma <= hi)
        fit = fit_exponent(gamma[keep], t[keep])
        lines.append(f"t_grok ~ gamma^p for gamma in [{lo:g}, {hi:g}]: p = "
                     f"{fit['exponent']:.2f} ± {fit['exponent_stderr']:.2f} "
                     f"(all seeds, {fit['n_fit']} runs)")
        for s in np.unique(seed):
            one = fit_exponent(gamma[keep & (seed == s)], t[keep & (seed == s)])
            lines.append(f"    seed {s}: p = {one['exponent']:.2f} ± "
                         f"{one['exponent_stderr']:.2f} ({one['n_fit']} runs)")
    return lines


def save(fig, log: list[str], folder: Path, name: str) -> None:
    """``folder/name.png`` (the figure) and ``folder/name.txt`` (the printed numbers)."""
    from reduced_dynamics.io.atomic import write_figure, write_text

    write_figure(fig, folder / f"{name}.png")
    write_text("\n".join(log) + "\n", folder / f"{name}.txt")
    print(f"wrote {folder / name}.png and .txt")


def say(lines: list[str], log: list[str]) -> None:
    """Print ``lines`` and keep them in ``log`` (written next to the figures)."""
    for line in lines:
        print(line)
    log.extend(lines)


def study_main(doc: str, commands, figures, out: str) -> None:
    """The command line of a study script: ``run`` (``commands(out, threads)``) or
    ``figures`` (``figures(out, folder)``)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("what", choices=("run", "figures"))
    parser.add_argument("--out", type=Path, default=Path(out), help=f"default {out}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per command")
    parser.add_argument("-o", "--figures", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()
    if args.what == "run":
        run_commands(commands(args.out, args.threads))
    else:
        args.figures.mkdir(parents=True, exist_ok=True)
        figures(args.out, args.figures)
