"""Subcommand ``datasize`` (Fig. 6e, SPEC §14): on a (w, m, n_train) landscape, per N the
boundary contour l̃_train = θ (0.02), whether the slide along it reaches the generalising
region G_N, the geometric form and the reduced dynamics from one start, as a table
(``--json``: one JSON object), a figure (``--plot``) and a data-size file (``-o``).

The table and the record are written from the result Dataset alone (`datasize_table`,
`datasize_record`), so ``info`` shows a data-size file the way the command printed it.
"""

from __future__ import annotations

import argparse
import math
import shlex
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.cli.arguments import (
    add_common,
    gammas_of,
    interpolant_of,
    open_landscape_arg,
    options_of,
    rates_of,
    start_of_run,
    warn_overflow,
)
from reduced_dynamics.cli.format import dumps, number, plain
from reduced_dynamics.cli.output import add_overwrite, figure_output, save_figure
from reduced_dynamics.engine.parameters import select_n_train
from reduced_dynamics.engine.results import ADAM_NOTE, TIME_UNITS
from reduced_dynamics.errors import InputError
from reduced_dynamics.gridspec import parse_list
from reduced_dynamics.io.lock import check_output
from reduced_dynamics.io.schema import now_iso
from reduced_dynamics.names import DATASIZE_LOSS
from reduced_dynamics.study import help_fragments

PER_N_KEYS = ("connects", "connect_alpha", "connect_m", "anchor_alpha", "anchor_m",
              "anchor_from", "slide_end", "slide_end_alpha", "slide_end_m", "slide_theta",
              "star_alpha",
              "star_m", "star_test_loss", "star_test_acc", "best_test", "region_fraction",
              "never_grok", "agrees")
PER_GAMMA_KEYS = ("t_overfit", "t_grok", "delay", "t_closed", "t_geometric", "L", "h",
                  "theta", "status")


def _degrees(theta: float) -> float:
    return math.degrees(theta) if np.isfinite(theta) else float("nan")


def datasize_record(ds: xr.Dataset, path: str = "") -> dict[str, Any]:
    """The result (or file) as plain values: the settings, one row per N, one row per
    (N, γ), and the comparisons (which N never grok; t_grok at the largest N against the
    next)."""
    a = ds.attrs
    rec: dict[str, Any] = {"file": path or None, "landscape": a.get("landscape_source"),
                           "task": a.get("task"), "preset": a.get("preset")}
    rec.update({k: plain(a.get(k)) for k in ("theta_train", "grok_on", "grok_threshold",
                                              "eta_d", "eta_r", "path_gamma")})
    rec["start"] = {"alpha": plain(a.get("start_alpha")), "m": plain(a.get("start_m"))}
    rec["time_units"] = TIME_UNITS
    rec["n_train"] = [int(n) for n in ds["n_train"].values]
    rec["gamma"] = [float(g) for g in ds["gamma"].values]
    rec["per_n"] = [{"n_train": int(n), **{k: plain(ds[k].values[i].item())
                                           for k in PER_N_KEYS}}
                    for i, n in enumerate(ds["n_train"].values)]
    rows = []
    for i, n in enumerate(ds["n_train"].values):
        for j, g in enumerate(ds["gamma"].values):
            row = {"n_train": int(n), "gamma": float(g)}
            row.update({k: plain(ds[k].values[i, j].item()) for k in PER_GAMMA_KEYS})
            row["theta_deg"] = plain(_degrees(float(ds["theta"].values[i, j])))
            rows.append(row)
    rec["rows"] = rows
    rec["never_grok"] = [int(n) for n, v in zip(ds["n_train"].values,
                                                ds["never_grok"].values) if v]
    rec["compare"] = _comparison(ds)
    return rec


def _comparison(ds: xr.Dataset) -> dict[str, Any] | None:
    """t_grok at the largest N against the next smaller N, per γ (None with one N)."""
    n = [int(v) for v in ds["n_train"].values]
    if len(n) < 2:
        return None
    ratio = ds["t_grok_ratio"].values.astype(float)
    ok = np.isfinite(ratio)
    return {"larger": n[-1], "smaller": n[-2], "ratio": [plain(r) for r in ratio],
            "n_compared": int(ok.sum()), "n_faster": int((ratio[ok] < 1).sum())}


def datasize_table(ds: xr.Dataset) -> str:
    """The text the command prints: settings, the per-N table, the per-(N, γ) table and
    the comparisons."""
    rec = datasize_record(ds)
    lines = [f"landscape {rec['landscape']}; boundary l_train = {rec['theta_train']:g}; "
             f"G_N: reduced test {'acc >=' if rec['grok_on'] == 'acc' else 'loss <='} "
             f"{rec['grok_threshold']:g}",
             f"start alpha = {rec['start']['alpha']:g}, m = {rec['start']['m']:g}; eta_d = "
             f"{rec['eta_d']:g}, eta_r = {rec['eta_r']:g}; the slide is anchored on the path "
             f"at gamma = {rec['path_gamma']:g}"]
    head = ("n_train", "connects", "at alpha", "at m", "slide end", "end alpha", "end m",
            "slope[deg]", "star alpha", "star m", "best test")
    lines.append("".join(f"{h:>11}" for h in head))
    for r in rec["per_n"]:
        yes = "yes" if r["connects"] else "no"
        cells = [f"{r['n_train']:>11}", f"{yes:>11}"]
        cells += [f"{number(_nan(r[k])):>11}" for k in ("connect_alpha", "connect_m")]
        cells.append(f"{r['slide_end']:>11}")
        cells += [f"{number(_nan(r[k])):>11}" for k in ("slide_end_alpha", "slide_end_m")]
        cells.append(f"{number(_degrees(_nan(r['slide_theta']))):>11}")
        cells += [f"{number(_nan(r[k])):>11}" for k in ("star_alpha", "star_m", "best_test")]
        lines.append("".join(cells))
    lines.append(f"times in {TIME_UNITS}; geometric = (L + h tan theta)/(eta_d gamma), "
                 "from point C")
    head = ("n_train", "gamma", "t_overfit", "t_grok", "geometric", "L", "h", "theta[deg]")
    lines.append("".join(f"{h:>11}" for h in head) + "  status")
    for r in rec["rows"]:
        cells = [f"{r['n_train']:>11}"] + [f"{number(_nan(r[k])):>11}" for k in (
            "gamma", "t_overfit", "t_grok", "t_geometric", "L", "h", "theta_deg")]
        lines.append("".join(cells) + f"  {r['status']}")
    never = rec["never_grok"]
    lines.append("never grok (no gamma): " + (", ".join(f"N = {n}" for n in never)
                                              if never else "none"))
    disagree = [r["n_train"] for r in rec["per_n"] if not r["agrees"]]
    if disagree:
        lines.append("the verdict and the integrated path disagree at N = "
                     + ", ".join(map(str, disagree)) + " (the path rides the boundary at "
                     "another level than theta_train, or leaves it)")
    cmp_ = rec["compare"]
    if cmp_ is not None:
        big, small = cmp_["larger"], cmp_["smaller"]
        if cmp_["n_compared"] == 0:
            lines.append(f"t_grok({big}) < t_grok({small}): not comparable (they do not "
                         "both grok at any gamma)")
        else:
            shown = ", ".join(number(_nan(v)) for v in cmp_["ratio"])
            answer = "yes" if cmp_["n_faster"] == cmp_["n_compared"] else (
                "no" if cmp_["n_faster"] == 0 else "at some gammas")
            lines.append(f"t_grok({big}) < t_grok({small}): {answer} ({cmp_['n_faster']} of "
                         f"{cmp_['n_compared']} gamma(s); ratios {shown})")
    lines.append("the paper (Fig. 6e): N = 45, 55 connect, 25, 35 do not and never grok; "
                 "theta_55 < theta_45, so t_55 < t_45")
    return "\n".join(lines)


def _nan(v: float | None) -> float:
    return float("nan") if v is None else float(v)


def _n_train(ds: xr.Dataset, text: str | None) -> list[int] | None:
    """--n-train LIST: grid values of the landscape (None: every N)."""
    if text is None:
        return None
    values = parse_list("--n-train", text, minimum=1.0)
    for v in values:
        select_n_train(ds, float(v), name="--n-train")
    return sorted({int(v) for v in values})


def cmd_datasize(args: argparse.Namespace) -> int:
    """Fig. 6e: contours, connections, geometric form and reduced dynamics per N."""
    from reduced_dynamics.datasize import data_size_dependence
    from reduced_dynamics.io.datasize_file import save_datasize

    inputs = tuple(p for p in (args.landscape,) if p is not None)
    out = None if args.output is None else check_output(
        args.output, "datasize", inputs=inputs, overwrite=args.overwrite, option="-o")
    figure = None if args.plot is None else figure_output(
        "--plot", args.plot, inputs=inputs, overwrite=args.overwrite)
    if out is not None and figure is not None and out == figure[0]:
        raise InputError(f"`-o` and `--plot` name the same file {str(out)!r}")
    ds, source = open_landscape_arg(args)
    sizes = _n_train(ds, args.n_train)
    eta_d, eta_r = rates_of(args)
    events, solver = options_of(args, ds)
    if args.n_grid < 20 or args.n_grid > 2001:
        raise InputError(f"`--n-grid` must be an integer from 20 to 2001, got {args.n_grid}")
    gam = gammas_of(args)
    start = start_of_run(args, None, 2)  # several paths per N: the parallel kernel
    res = data_size_dependence(ds, gam, eta_d, eta_r, start, n_train=sizes,
                               path_gamma=args.path_gamma, events=events,
                               solver=solver,
                               interpolant=interpolant_of(args), n_grid=args.n_grid,
                               source=source)
    res.attrs["history"] = f"{now_iso()} reduced-dynamics {shlex.join(args.argv)}"
    warn_overflow(res["status"].values, np.broadcast_to(res["gamma"].values,
                                                        res["status"].shape))
    wrote = []
    if figure is not None:
        from reduced_dynamics.plot.datasize import plot_datasize

        wrote.append(save_figure(plot_datasize(res), *figure))
    if out is not None:
        save_datasize(res, out)
        wrote.append(f"wrote {out}")
    if args.json:
        rec = datasize_record(res)
        rec["note"] = ADAM_NOTE
        rec["wrote"] = [w.removeprefix("wrote ") for w in wrote]
        print(dumps(rec))
        return 0
    print(datasize_table(res))
    print(f"note: {ADAM_NOTE}")
    for line in wrote:
        print(line)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``datasize`` to ``subparsers``."""
    shown = help_fragments()
    p = subparsers.add_parser(
        "datasize", help="Fig. 6e: the boundary contour per training-set size N, whether it "
        "connects to the generalising region, and the reduced dynamics per N",
        description="On a (w, m, n_train) landscape: per N the contour l_train = THETA "
                    f"(default {DATASIZE_LOSS}, Fig. 6e's), whether the slide along it from "
                    "the path's D' reaches the generalising region G_N (reduced test "
                    "accuracy >= the task's grok threshold), the geometric form "
                    "(L + h tan theta)/(eta_d gamma), and t_overfit, t_grok and status of "
                    "the reduced dynamics from one start at every gamma.")
    add_common(p, shown, theta_default=DATASIZE_LOSS, n_train_list=True)
    p.add_argument("--gamma", default=None, metavar="LIST",
                   help="weight decays >= 0: comma list or log:START:STOP:NUM; default: the "
                        f"landscape's task's study list ({shown['gamma']})")
    p.add_argument("--path-gamma", type=float, default=None, metavar="G",
                   help="weight decay of the path drawn and whose C anchors the slide "
                        "(default: the 4th value of the gamma list)")
    p.add_argument("--n-grid", type=int, default=201,
                   help="points per axis of the (ln w, m) grid the contours are traced on "
                        "(default 201)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--plot", default=None, metavar="FIG.png",
                   help="write the figure (contours, G_N, stars, paths, verdicts)")
    p.add_argument("-o", "--output", default=None, metavar="OUT.nc",
                   help="write the result as a data-size file (netCDF; `info` reads it)")
    add_overwrite(p, "output file or figure")
    p.set_defaults(func=cmd_datasize)
