"""The `reduced-dynamics` command line. Bad input: one message on stderr, exit status 2.

`build_parser` gathers the commands, one module per group: `sweeps` (``probe``, ``train``;
torch), `files` (``validate``, ``info``, ``plot``), `engine` (``predict``, ``path``,
``gamma-plot``), `datasize` (``datasize``, Fig. 6e), `phases` (``phases``, SPEC §15); the
prediction commands share
`arguments`; their output is written with `format` (numbers, JSON) and `output`
(checked output paths, figures).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reduced_dynamics.cli.sweeps import TORCH_COMMANDS, require_torch
from reduced_dynamics.errors import ReducedDynamicsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reduced-dynamics",
        description="Reduced (w, m) landscapes and gradient-flow predictions of grokking.")
    from reduced_dynamics.io.schema import package_version

    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # imported here, in this order, as the commands appear in the help
    from reduced_dynamics.cli.sweeps import register as register_sweep_commands

    register_sweep_commands(sub)
    from reduced_dynamics.cli.files import register as register_file_commands

    register_file_commands(sub)
    from reduced_dynamics.cli.engine import register as register_engine_commands

    register_engine_commands(sub)
    from reduced_dynamics.cli.datasize import register as register_datasize_command

    register_datasize_command(sub)
    from reduced_dynamics.cli.phases import register as register_phases_command

    register_phases_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit status.

    Output piped into a reader that stops early (``| head``) ends the command quietly with
    status 141 (128 + SIGPIPE), as a command killed by SIGPIPE ends in a shell, so that
    ``set -o pipefail`` sees it stopped early; files it writes are written atomically, so
    one it had not finished is not left half-written."""
    try:
        try:
            return _main(argv)
        finally:  # buffered output reaches the pipe here, not at interpreter exit
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return 141


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit finds no broken pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file descriptor (a test's StringIO)
        pass
    finally:
        os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    import warnings

    argv = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():  # the caller's warning settings come back afterwards
        _warnings_as_lines()
        args = build_parser().parse_args(argv)  # the task registry loads its plugins here
        args.argv = argv  # recorded in the `history` attribute of files we write
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command: bad input is one ``error:`` line and status 2."""
    try:
        if args.command in TORCH_COMMANDS:
            from reduced_dynamics.io.lock import check_output, finished_output

            kind = TORCH_COMMANDS[args.command]
            if finished_output(args.output, kind, resume=args.resume) and not args.overwrite:
                print(f"{args.output} is a finished {kind} file with no parts or checkpoint "
                      "left: nothing to resume (add --overwrite to compute it again)")
                return 0
            # before any probing or training (and before torch is needed)
            check_output(args.output, kind, overwrite=args.overwrite, resume=args.resume,
                         option="--output")
            require_torch(args.command)
        _terminate_as_interrupt()  # from here on SIGTERM ends the command like Ctrl-C
        return int(args.func(args) or 0)
    except ReducedDynamicsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished chunks are kept, rerun with --resume", file=sys.stderr)
        return 130


def _warnings_as_lines() -> None:
    """The package's warnings (`ReducedDynamicsWarning`, e.g. an unconverged start) as one
    ``warning: ...`` line on stderr each; other warnings as Python shows them (inside the
    `main` call's ``catch_warnings``)."""
    import warnings

    from reduced_dynamics.errors import ReducedDynamicsWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ReducedDynamicsWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("always", ReducedDynamicsWarning)


def _terminate_as_interrupt() -> None:
    """SIGTERM (``kill``, ``timeout``, a batch scheduler's time limit) ends a command like
    Ctrl-C: the finished parts and the checkpoint stay, and the output's lock is released
    on the way out instead of being left for the next command to take over."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


if __name__ == "__main__":
    sys.exit(main())
