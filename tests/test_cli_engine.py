"""The ``predict``, ``path`` and ``gamma-plot`` subcommands, their output and their errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from reduced_dynamics.cli import engine as cli_engine
from reduced_dynamics.errors import ReducedDynamicsError
from reduced_dynamics.io.landscape_file import save_landscape
from reduced_dynamics.testing.synthetic import synthetic_landscape

ROOT = Path(__file__).resolve().parents[1]
GAMMAS = "1e-5,2e-5,4e-5"


def run(argv: list[str]) -> int:
    """What the main CLI does: parse, call ``func``, turn our errors into exit status 2."""
    parser = argparse.ArgumentParser(prog="reduced-dynamics")
    cli_engine.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ReducedDynamicsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture(scope="module")
def landscape(tmp_path_factory) -> str:
    return str(save_landscape(synthetic_landscape(), tmp_path_factory.mktemp("ls") / "s.nc"))


def test_predict_table(landscape, capsys):
    assert run(["predict", landscape, "--gamma", GAMMAS]) == 0
    out = capsys.readouterr().out
    assert "gamma" in out and "t_grok" in out and "closed" in out and "geometric" in out
    assert out.count(" ok") == 3
    assert "fitted exponent: t_grok ~ gamma^p, p = -" in out
    assert "optimiser steps" in out and "Adam" in out


def test_predict_json(landscape, capsys):
    assert run(["predict", landscape, "--gamma", "log:1e-5:1e-4:4", "--start", "30,0.15",
                "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["rows"]) == 4 and res["start"] == {"alpha": 30.0, "m": 0.15}
    assert set(res["rows"][0]) == {"gamma", "t_overfit", "t_grok", "delay", "t_closed",
                                   "t_geometric", "status"}
    assert -1.2 < res["exponent"] < -0.8 and res["n_fit"] == 4
    assert res["eta_d"] == 1e-3 and res["time_units"].startswith("optimiser steps")


def test_predict_uses_the_shipped_default(landscape, capsys, monkeypatch):
    fake = types.ModuleType("reduced_dynamics.io.resources")
    fake.default_landscape = lambda: Path(landscape)
    monkeypatch.setitem(sys.modules, "reduced_dynamics.io.resources", fake)
    assert run(["predict", "--gamma", "2e-5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["landscape"] == landscape


def test_path_and_gamma_plot_write_figures(landscape, tmp_path, capsys):
    out = tmp_path / "fig" / "path.png"
    out.parent.mkdir()  # a figure's folder must exist (`io.lock.check_output`)
    assert run(["path", landscape, "--gamma", "2e-5", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "A: t=0" in text and "E: t=" in text and "descent" in text
    out = tmp_path / "gamma.png"
    assert run(["gamma-plot", landscape, "--gamma", GAMMAS, "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert "fitted exponent p = -" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--gamma=-1,2e-5"], r"`--gamma` values must be >= 0, got \[-1.0\]"),
    (["--eta-d", "-1"], r"`--eta-d` must be a finite number > 0, got -1.0"),
    (["--eta-r", "nan"], r"`--eta-r` must be a finite number >= 0, got nan"),
    (["--start", "500,0.1"], r"\(500, 0.1\) lies outside the landscape grid: alpha must be in"),
    (["--start", "30"], r"`--start` must be ALPHA,M"),
    (["--t-max", "0"], r"`t_max` must be a finite time > t_first = 1"),
    (["--theta-train", "-0.05"], r"`theta_train` must be a finite loss threshold > 0"),
    (["--grok-on", "loss"], r"`theta_test` must be a loss threshold > 0 when grok_on='loss'"),
])
def test_bad_input_is_one_clear_message(landscape, capsys, argv, message):
    assert run(["predict", landscape, "--gamma", GAMMAS, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert err.count("\n") == 1
    import re

    assert re.search(message, err), err


def test_bad_landscape_files(tmp_path, capsys):
    assert run(["predict", str(tmp_path / "nope.nc")]) == 2
    assert "does not exist" in capsys.readouterr().err
    ds = synthetic_landscape().drop_vars("test_acc")
    ds.to_netcdf(tmp_path / "partial.nc")
    assert run(["predict", str(tmp_path / "partial.nc")]) == 2
    err = capsys.readouterr().err
    assert "`test_acc` is missing" in err and "variables [" in err


def test_no_default_landscape_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "reduced_dynamics.io.resources", None)
    assert run(["predict"]) == 2
    assert "no LANDSCAPE given" in capsys.readouterr().err


def test_lazy_imports_and_one_entry_point(landscape):
    """The engine commands import neither matplotlib nor torch, and run through the
    package's one entry point (`cli.main.main`; cli.engine has no second `main`)."""
    from reduced_dynamics.cli.main import main

    code = ("import sys; import reduced_dynamics.cli.engine, reduced_dynamics.engine.predict; "
            "print('matplotlib' in sys.modules, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=120)
    assert proc.stdout.split() == ["False", "False"], proc.stderr
    assert not hasattr(cli_engine, "main")
    assert main(["predict", landscape, "--gamma=-1"]) == 2


def test_no_closed_or_geometric_form_for_a_path_not_overfit_at_C(landscape, capsys):
    """Issue 18 item 8: from alpha 1.5 (region I) the path has not overfit where its fast
    phase ends (C): the forms, durations from an overfit C down to the boundary, do not
    apply. They are a dash in the table and null in --json, not 0; a start in region II
    keeps its forms."""
    argv = ["predict", landscape, "--gamma", "1e-5", "--start", "1.5,0.05"]
    assert run(argv) == 0
    row = capsys.readouterr().out.splitlines()[3].split()
    assert row[0] == "1e-05" and row[4:7] == ["-", "-", "ok"]
    assert run([*argv, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["rows"][0]
    assert res["t_closed"] is None and res["t_geometric"] is None
    assert res["t_overfit"] > 0 and res["t_grok"] > 0 and res["status"] == "ok"
    assert run(["predict", landscape, "--gamma", "1e-5", "--start", "30,0.15", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["rows"][0]
    assert res["t_closed"] > 0 and res["t_geometric"] > 0
