"""The commands that read the package's files: ``validate`` (predictions vs full training
runs, a report folder), ``info`` (a summary of any file, `cli.info`) and ``plot`` (a
landscape's or a runs file's figure). ``register(subparsers)`` adds them."""

from __future__ import annotations

import argparse
import shlex

import numpy as np

from reduced_dynamics.errors import InputError
from reduced_dynamics.names import BOUNDARY_LOSS


def _validate(args: argparse.Namespace) -> int:
    from reduced_dynamics.io.landscape_file import open_landscape
    from reduced_dynamics.io.lock import check_output
    from reduced_dynamics.io.schema import now_iso
    from reduced_dynamics.validate import (
        report_rows,
        report_summary,
        restart_line,
        table,
        validate,
        write_report,
    )

    check_output(args.output, None, inputs=(args.landscape, args.runs), option="--output",
                 folder=True, overwrite=args.overwrite)
    landscape = open_landscape(args.landscape)
    report = validate(landscape, args.runs, n_train=args.n_train, start=args.start,
                      restarts=args.restarts)
    report.attrs["landscape"] = args.landscape  # the file, not "<Dataset>"
    if not args.json:
        print(table(report))
        print(f"runs from the {report.attrs['run_start']} start; "
              f"{report.attrs['eta_r_conversion']}")
    history = f"{now_iso()} reduced-dynamics {shlex.join(args.argv)}"
    paths = write_report(report, landscape, args.output, history=history)
    if args.json:
        from reduced_dynamics.cli.format import dumps

        print(dumps({"landscape": args.landscape, "runs": args.runs, "start": args.start,
                     "events": report.attrs["events"],
                     "run_start": report.attrs["run_start"],
                     "eta_r_conversion": report.attrs["eta_r_conversion"],
                     "restarts": restart_line(report),
                     **report_summary(report),
                     "rows": report_rows(report), "wrote": [str(p) for p in paths]}))
        return 0
    for path in paths:
        print(f"wrote {path}")
    return 0


def _merge_seeds(args: argparse.Namespace) -> int:
    from reduced_dynamics.io.schema import now_iso
    from reduced_dynamics.landscape.merge import merge_seeds

    history = f"{now_iso()} reduced-dynamics {shlex.join(args.argv)}"
    ds = merge_seeds(args.landscapes, args.output, overwrite=args.overwrite, history=history)
    seeds = ", ".join(str(int(s)) for s in ds["seed"].values)
    print(f"wrote {args.output}: restarts of seeds {seeds} on {ds.sizes['w']} alpha values; "
          f"{int((~ds['converged']).sum())} unconverged point(s) of the best over seeds")
    return 0


def _info(args: argparse.Namespace) -> int:
    from reduced_dynamics.cli.info import record_of, summarize_file

    if args.json:
        from reduced_dynamics.cli.format import dumps

        print(dumps(record_of(args.file)))
    else:
        print(summarize_file(args.file))
    return 0


def _refuse_figure_options(args: argparse.Namespace, what: str) -> None:
    """`InputError` for the first of --boundary, --n-train, --by, --max-rows given for a
    file whose figure takes none of them (``what``: that file, for the message)."""
    for option, value in (("--boundary", args.boundary), ("--n-train", args.n_train),
                          ("--by", args.by), ("--max-rows", args.max_rows)):
        if value is not None:
            raise InputError(f"`{option}` does not apply to {what}; drop {option}")


def _plot(args: argparse.Namespace) -> int:
    """A landscape's heatmaps or curves, a runs file's accuracy/loss/norm curves, a
    data-size file's contours (Fig. 6e) or a phase diagram (SPEC §15): the file's kind
    (its ``reduced_dynamics_file`` attribute) picks the figure."""
    from reduced_dynamics.cli.output import figure_output, save_figure
    from reduced_dynamics.io.landscape_file import check_landscape
    from reduced_dynamics.io.schema import FILE_KIND_ATTR, read_dataset
    from reduced_dynamics.io.trajectory_file import check_trajectories

    out, note = figure_output("--output", args.output, inputs=(args.file,),
                              overwrite=args.overwrite)
    ds = read_dataset(args.file, "landscape")  # the kind named when it cannot be read
    if ds.attrs.get(FILE_KIND_ATTR) == "trajectory":
        from reduced_dynamics.plot.runs import MAX_ROWS, plot_runs

        if args.boundary is not None:
            raise InputError(f"`--boundary` applies to landscape files; {args.file} is a "
                             "trajectory (runs) file, whose figure takes --n-train, --by and "
                             "--max-rows; drop --boundary")
        fig = plot_runs(check_trajectories(ds, args.file), by=args.by, n_train=args.n_train,
                        max_rows=MAX_ROWS if args.max_rows is None else args.max_rows)
    elif ds.attrs.get(FILE_KIND_ATTR) == "datasize":
        from reduced_dynamics.io.datasize_file import check_datasize
        from reduced_dynamics.plot.datasize import plot_datasize

        _refuse_figure_options(args, f"a data-size file ({args.file}: its figure shows "
                               "every N)")
        fig = plot_datasize(check_datasize(ds, args.file))
    elif ds.attrs.get(FILE_KIND_ATTR) == "phases":
        from reduced_dynamics.io.phases_file import check_phases
        from reduced_dynamics.plot.phases import plot_phases

        _refuse_figure_options(args, f"a phase-diagram file ({args.file})")
        fig = plot_phases(check_phases(ds, args.file))
    else:
        from reduced_dynamics.plot.landscape import plot_landscape

        for option, value in (("--by", args.by), ("--max-rows", args.max_rows)):
            if value is not None:
                raise InputError(f"`{option}` applies to trajectory (runs) files; "
                                 f"{args.file} is a landscape file; drop {option}")
        boundary = BOUNDARY_LOSS if args.boundary is None else args.boundary
        if not (np.isfinite(boundary) and boundary > 0):
            raise InputError(f"`--boundary` must be a finite train loss > 0, got {boundary}")
        fig = plot_landscape(check_landscape(ds, args.file), boundary=boundary,
                             n_train=args.n_train)
    print(save_figure(fig, out, note))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``validate``, ``info`` and ``plot`` to ``sub``."""
    from reduced_dynamics.cli.output import add_overwrite

    p = sub.add_parser("validate", help="compare predictions with full training runs")
    p.add_argument("landscape", help="landscape file (.nc)")
    p.add_argument("runs", help="trajectory file from `reduced-dynamics train`")
    p.add_argument("-o", "--output", required=True, help="report folder")
    add_overwrite(p, "report (the folder's validation.csv, validation.nc and figures; a "
                  "folder holding one of the inputs is refused too)")
    p.add_argument("--n-train", type=int, metavar="N", help="training-set size of the runs, "
                   "on a landscape with an n_train axis (default: the runs' own); on runs "
                   "that carry their own sizes, one of them: validate only those runs")
    p.add_argument("--start", choices=("init", "peak"), default="init",
                   help="where each prediction starts: the run's initial alpha0 (default), "
                   "or its measured w at the logged step where w peaks, for runs whose "
                   "memorisation phase the reduced dynamics does not describe (transformers)")
    p.add_argument("--restarts", choices=("own", "best"), default="own",
                   help="own (default): predict each run on the landscape restart of its "
                   "own init seed where the file keeps one, else on the best over seeds; "
                   "best: the best over seeds for every run")
    p.add_argument("--json", action="store_true", help="print the per-run rows and the "
                   "summary as JSON (NaN: null) instead of the table; the report folder is "
                   "written all the same")
    p.set_defaults(func=_validate)

    p = sub.add_parser("merge-seeds", help="merge landscapes of other init seeds (same task, "
                       "probe settings and alpha grid) into one file of restarts")
    p.add_argument("landscapes", nargs="+", help="two or more landscape files (.nc)")
    p.add_argument("-o", "--output", required=True, help="landscape file to write (.nc)")
    add_overwrite(p, "landscape file")
    p.set_defaults(func=_merge_seeds)

    p = sub.add_parser("info", help="summarise a landscape, trajectory file or validation "
                       "report (task, provenance and history, grid or runs, convergence)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON "
                   "object (NaN: null), with every unconverged point or run")
    p.set_defaults(func=_info)

    from reduced_dynamics.plot.runs import MAX_ROWS, SETTINGS

    p = sub.add_parser(
        "plot", help="figure of a file: a landscape's heatmaps of reduced train and test "
        "loss (Fig. 6a,b; Fig. 3a,b over (alpha, N) for a (w, n_train) landscape; loss and "
        "accuracy curves for a 1-D one), a runs file's accuracy, loss and norm against "
        "steps with t_overfit and t_grok, or a data-size file's contours (Fig. 6e)",
        description="Draw a landscape, a trajectory (runs) file or a data-size file; the "
        "file's kind picks the figure. Landscapes take --boundary and --n-train; runs files "
        "take --n-train, --by and --max-rows.")
    p.add_argument("file", help="a landscape (.nc from `probe`), a runs file (.nc from "
                   "`train`) or a data-size file (.nc from `datasize -o`)")
    p.add_argument("-o", "--output", required=True, help="output image; its suffix picks "
                   "the format (.png, .pdf, .svg, ...); a name without one gets .png appended")
    add_overwrite(p)
    p.add_argument("--boundary", type=float, default=None,
                   help=f"landscapes: train-loss contour to draw (default {BOUNDARY_LOSS})")
    p.add_argument("--n-train", type=int, metavar="N", help="landscapes with an n_train axis: "
                   "draw that training-set size (a grid value); runs files: draw only the "
                   "runs of that size (one of theirs)")
    p.add_argument("--by", choices=SETTINGS, help="runs files: the setting that colours "
                   "the runs (default: the one with most values, seeds last); each "
                   "combination of the other varying settings but the seed is a row")
    p.add_argument("--max-rows", type=int, metavar="K", help="runs files: draw at most K rows "
                   f"of runs (default {MAX_ROWS}; the title says how many are left out)")
    p.set_defaults(func=_plot)
