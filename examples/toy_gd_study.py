"""The (w, m) reduction of toy addition tested on its own terms (issue 19): gradient descent
from a relaxed start, against GD from the scaled init and AdamW, on per-seed landscapes.

    python examples/toy_gd_study.py run      [--out out/toy_gd] [--threads 1]
    python examples/toy_gd_study.py figures  [--out out/toy_gd] [-o docs/figures]

``run`` makes every file with the `reduced-dynamics` commands printed as it goes (each is
skipped when its output exists, resumed when it was interrupted):

- ``toy_addition_paper_seed1.nc``: the shipped landscape's probe for init seed 1 (the
  shipped ``landscapes/toy_addition_paper.nc`` is seed 0; ~62 min on one core);
- ``toy_addition_paper_cont.nc``, ``toy_addition_paper_seed1_cont.nc``: both re-probed by
  continuation in w (`reduced-dynamics continuation`, 4 000 steps per point; ~30 min each);
- ``toy_addition_seeds.nc``: the two continued landscapes merged, one restart per init
  seed (`reduced-dynamics merge-seeds`);
- ``toy_gd_runs.nc``: full-batch gradient descent (``--optimizer sgd``, η = 0.003,
  η_R = 3·10⁻⁴) from the relaxed start (the decoder first minimised at α0 = 5, m0 = 0.12),
  seeds 0 and 1, six γ over 1.5 decades (0.003 … 0.096), 10⁵ steps (~17 min);
- ``toy_gd_init_runs.nc``: the same from the scaled default init (~15 min);
- ``toy_adamw_runs.nc``: today's default study, AdamW from the scaled init (4 min);
- ``toy_fig6e_gd_runs.nc``: Fig. 6e's runs, GD from the relaxed start on the ``fig6e``
  preset at N = 25, 35, 45, 55 and γ = 0.012, 0.048 (10 min), validated against
  ``landscapes/toy_addition_fig6e.nc`` N by N.

``figures`` validates the three sets of runs against the per-seed landscape (each run
paired with its own seed's restart), prints the tables, the exponents per seed with
standard errors, the plateau decay rate against ηγ and the residuals, and draws
docs/figures/toy_gd_validation.png. Without ``run`` it reads the committed files
(``landscapes/toy_addition_seeds.nc``, ``docs/data/toy_*_runs.nc``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _study import REPO, exponent_lines, say, study_main

from reduced_dynamics.io.atomic import write_figure, write_text
from reduced_dynamics.plot import new_figure
from reduced_dynamics.validate import table, validate

PROBE = ("probe toy-addition --preset paper --alpha log:0.1:100:31 --m quad:0:1:21 "
         "--steps 10000 --schedule cosine --lr-scaling alpha")
GD = ("train toy-addition --optimizer sgd --eta-d 0.003 --eta-r 3e-4 "
      "--gamma log:0.003:0.096:6 --seeds 0,1 --steps 100000")
SETS = (  # (file, label) of each set of runs, in the figure's order
    ("toy_gd_runs.nc", "GD, relaxed start"),
    ("toy_gd_init_runs.nc", "GD, scaled init"),
    ("toy_adamw_runs.nc", "AdamW, scaled init"),
)
LANDSCAPE = "toy_addition_seeds.nc"
FIG6E = ("train toy-addition --preset fig6e --optimizer sgd --eta-d 0.003 --eta-r 3e-4 "
         "--gamma 0.012,0.048 --seeds 0, --n-train 25,35,45,55 --steps 100000 "
         "--start relaxed --relax-steps 5000")


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in the order they run."""
    t = f"--threads {threads} -q"
    shipped = REPO / "landscapes" / "toy_addition_paper.nc"
    seed1, cont0, cont1 = (out / f"toy_addition_paper{s}.nc"
                           for s in ("_seed1", "_cont", "_seed1_cont"))
    return [
        (seed1, f"{PROBE} --seeds 1, {t}"),
        (cont0, f"continuation {shipped} --steps 4000 {t}"),
        (cont1, f"continuation {seed1} --steps 4000 {t}"),
        (out / LANDSCAPE, f"merge-seeds {cont0} {cont1}"),
        (out / "toy_gd_runs.nc", f"{GD} --start relaxed {t}"),
        (out / "toy_gd_init_runs.nc", f"{GD} --start init {t}"),
        (out / "toy_adamw_runs.nc", f"train toy-addition {t}"),
        (out / "toy_fig6e_gd_runs.nc", f"{FIG6E} {t}"),
    ]


def main() -> None:
    study_main(__doc__, commands, figures, "out/toy_gd")


def locate(out: Path, name: str) -> Path:
    """``out/name``, else the committed copy (landscapes/ or docs/data/)."""
    committed = {"toy_adamw_runs.nc": "toy_study_runs.nc"}.get(name, name)
    for path in (out / name, REPO / "landscapes" / name, REPO / "docs" / "data" / committed):
        if path.exists():
            return path
    raise SystemExit(f"{name} is neither in {out} nor committed: run the `run` step first")


def set_numbers(report, label: str) -> list[str]:
    """The per-set numbers the README quotes: ratios, exponents per seed, plateau rates."""
    gamma, seed = report["gamma"].values, report["seed"].values
    meas, pred = report["t_grok_measured"].values, report["t_grok_predicted"].values
    ratio = np.maximum(meas, pred) / np.minimum(meas, pred)  # NaN where either is missing
    rate = report["plateau_rate"].values / report["eta_d_gamma"].values
    lines = [f"== {label} ({report.attrs.get('run_start', 'init')} start)"]
    for s in np.unique(seed):
        k = seed == s
        both = k & np.isfinite(ratio)
        lines.append(f"  seed {s}: {int(np.isfinite(meas[k]).sum())} of {int(k.sum())} runs "
                     f"grok; within 2x: {int((ratio[both] <= 2).sum())} of {int(both.sum())}"
                     + (f"; factor {np.nanmin(ratio[both]):.2f}-{np.nanmax(ratio[both]):.2f}"
                        if both.any() else ""))
        lines.append(f"    plateau rate / (eta gamma): {_span(rate[k])}; max residual "
                     f"{_span(report['max_residual'].values[k])}")
    lines += ["  measured " + line for line in exponent_lines(
        gamma, meas, seed, [(gamma.min(), gamma.max())])]
    lines += ["  predicted " + line for line in exponent_lines(
        gamma, pred, seed, [(gamma.min(), gamma.max())])]
    return lines


def _span(values: np.ndarray) -> str:
    v = values[np.isfinite(values)]
    return "-" if v.size == 0 else f"{v.min():.3f}-{v.max():.3f}"


def figures(out: Path, folder: Path) -> None:
    """Validation of each set against the per-seed landscape (each run on its own seed's
    restart); one panel per set. For contrast, GD from the relaxed start on the shipped
    seed-0 landscape alone."""
    log: list[str] = []
    landscape = locate(out, LANDSCAPE)
    seed0 = validate(REPO / "landscapes" / "toy_addition_paper.nc", locate(out, SETS[0][0]))
    say(set_numbers(seed0, "GD, relaxed start, on the seed-0 landscape alone"), log)
    fig = new_figure(4.2 * len(SETS), 4.0)
    axes = fig.subplots(1, len(SETS))
    for ax, (name, label) in zip(axes, SETS):
        report = validate(landscape, locate(out, name))
        say([f"\n{label}: {locate(out, name)}", table(report)], log)
        say(set_numbers(report, label), log)
        _scatter(ax, report, label)
    fig6e = validate(REPO / "landscapes" / "toy_addition_fig6e.nc",
                     locate(out, "toy_fig6e_gd_runs.nc"))
    say(["\nFig. 6e, GD from the relaxed start, N by N:", table(fig6e)], log)
    write_figure(fig, folder / "toy_gd_validation.png")
    write_text("\n".join(log) + "\n", folder / "toy_gd_validation.txt")
    print(f"wrote {folder / 'toy_gd_validation'}.png and .txt")


def _scatter(ax, report, label: str) -> None:
    """Predicted against measured t_grok per run (log-log), the 2x band, by seed; runs that
    never grok are drawn at the right edge."""
    meas, pred = report["t_grok_measured"].values, report["t_grok_predicted"].values
    seed = report["seed"].values
    finite = np.concatenate([meas[np.isfinite(meas)], pred[np.isfinite(pred)]])
    lo, hi = finite.min() / 2, finite.max() * 2
    x = np.geomspace(lo, hi, 10)
    ax.fill_between(x, x / 2, x * 2, color="0.9", label="within 2x")
    ax.plot(x, x, "k-", lw=0.8)
    for s, marker in zip(np.unique(seed), "os^v"):
        k = seed == s
        ax.scatter(np.where(np.isfinite(meas[k]), meas[k], hi), pred[k], marker=marker,
                   c=np.log10(report["gamma"].values[k]), cmap="viridis",
                   label=f"seed {s}")
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi),
           xlabel="measured t_grok (steps; never: right edge)",
           ylabel="predicted t_grok (steps)")
    ax.set_title(f"{label}\nexponent measured {report.attrs['exponent_measured']:.2f}, "
                 f"predicted {report.attrs['exponent_predicted']:.2f}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")


if __name__ == "__main__":
    main()
