"""One source of defaults: the Python API and the CLI predict the same from a landscape's own
task (`reduced_dynamics.study`), warn alike, and show paths that never grok as no-grok."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import reduced_dynamics as rd
from reduced_dynamics.cli.main import main
from reduced_dynamics.study import UnconvergedStartWarning, study_defaults
from reduced_dynamics.tasks import get_task

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "landscapes").glob("*.nc"))


def _cli_json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _rows(res) -> list[dict]:
    """The API result as the CLI's JSON rows (per N on a landscape with that axis)."""
    subs = ([res.isel(n_train=k) for k in range(res.sizes["n_train"])]
            if "n_train" in res.dims else [res])
    rows = []
    for sub in subs:
        for i, g in enumerate(sub["gamma"].values):
            row = {"gamma": float(g)}
            if "n_train" in sub.coords:
                row["n_train"] = int(sub["n_train"])
            for k in ("t_overfit", "t_grok", "t_closed", "t_geometric"):
                v = float(sub[k].values[i])
                row[k] = v if np.isfinite(v) else None
            row["status"] = str(sub["status"].values[i])
            rows.append(row)
    return rows


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_api_equals_cli_on_every_shipped_landscape(path, capsys):
    """``predict_grokking_times(open_landscape(path))`` is what ``reduced-dynamics predict
    path`` prints: the same start, rates, γ list, threshold and times."""
    assert len(SHIPPED) >= 5
    cli = _cli_json(capsys, ["predict", str(path), "--json"])
    ds = rd.open_landscape(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedStartWarning)  # as the CLI's, if any
        res = rd.predict_grokking_times(ds)
    entry = get_task(ds.attrs["task"]).for_preset(ds.attrs.get("preset"))  # liu2022's own
    assert cli["eta_d"] == res.attrs["eta_d"] == entry.train.eta_d
    alpha0 = entry.alpha0[0]
    assert cli["start"]["alpha"] == res.attrs["start_alpha"] == alpha0
    api_rows = _rows(res)
    assert len(api_rows) == len(cli["rows"]) > 0
    for a, c in zip(api_rows, cli["rows"]):
        assert a["status"] == c["status"]
        for k in ("gamma", "n_train", "t_overfit", "t_grok", "t_closed", "t_geometric"):
            if k not in a:
                continue
            if a[k] is None or c[k] is None:
                assert a[k] is None and c[k] is None, (k, a, c)
            else:
                assert a[k] == pytest.approx(c[k], rel=1e-12), (k, a, c)


def test_api_defaults_are_the_tasks_study_not_the_landscapes_guess():
    """The default landscape groks from the task's study start (α 5, m 0.12) at the study's
    γ 0.05–1.6 and AdamW's η = 1e-3 — the landscape-only guess (α 35.5, γ ~1e-4) never
    does within the step budget."""
    ds = rd.open_landscape(rd.default_landscape())
    res = rd.predict_grokking_times(ds)
    d = study_defaults(rd.prepare_landscape(ds))
    assert d.start == (5.0, 0.12) and d.source == "task 'toy-addition'"
    np.testing.assert_allclose(res["gamma"].values, d.gammas)
    assert np.isfinite(res["t_grok"].values).all()
    assert -1.2 < float(res["exponent"]) < -0.6
    path = rd.analyze_path(ds)  # γ: the study list's 4th value, as `path` uses
    assert float(path.attrs["gamma"]) == d.gammas[3]
    assert np.isfinite(float(path["t_grok"]))


def test_an_unconverged_start_warns_in_the_api_and_the_cli(capsys):
    ds = rd.open_landscape(rd.default_landscape())
    with pytest.warns(UnconvergedStartWarning, match="unconverged region"):
        rd.predict_grokking_times(ds, [0.1], start=(50, 0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnconvergedStartWarning)
        rd.predict_grokking_times(ds, [0.1])  # the study start is converged: no warning
    capsys.readouterr()
    assert main(["predict", "--gamma", "0.1", "--start", "50,0.1"]) == 0
    err = capsys.readouterr().err
    assert "warning: the start alpha=50, m=0.1 lies in the unconverged region" in err


def test_a_start_outside_the_grid_is_refused_without_a_warning(capsys):
    capsys.readouterr()
    assert main(["predict", "--gamma", "0.1", "--start", "500,0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `start` (alpha, m) = (500, 0.1) lies outside")
    assert "warning" not in err


def test_no_grok_paths_have_no_closed_or_geometric_form(capsys):
    """From (α 0.2, m 0.9) — tiny norm, messy representation — nothing overfits or groks
    within 100 steps: t_grok is NaN and so are both forms, in the API, the table and the
    JSON."""
    ds = rd.open_landscape(rd.default_landscape())
    res = rd.predict_grokking_times(ds, [0.05, 0.1], start=(0.2, 0.9),
                                    solver=rd.SolverOptions(t_max=100))
    assert not np.isfinite(res["t_grok"].values).any()
    assert not np.isfinite(res["t_closed"].values).any()
    assert not np.isfinite(res["t_geometric"].values).any()
    argv = ["predict", "--gamma", "0.05,0.1", "--start", "0.2,0.9", "--t-max", "100"]
    out = _cli_json(capsys, [*argv, "--json"])
    assert all(r["t_grok"] is None and r["t_closed"] is None and r["t_geometric"] is None
               for r in out["rows"])
    assert out["exponent"] is None
    assert main(argv) == 0
    table = capsys.readouterr().out
    rows = [line.split() for line in table.splitlines() if line.strip().startswith("0.")]
    assert len(rows) == 2 and all(r[2:6] == ["-"] * 4 for r in rows)


def test_gamma_plot_says_when_no_path_groks(tmp_path, capsys):
    capsys.readouterr()
    assert main(["gamma-plot", "--gamma", "0.05,0.1", "--start", "0.2,0.9", "--t-max", "100",
                 "-o", str(tmp_path / "g.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no path grokked (status ")
    assert "p = -" not in out
    assert (tmp_path / "g.png").is_file()


def test_path_json(capsys, tmp_path):
    out = _cli_json(capsys, ["path", "--json", "-o", str(tmp_path / "p.png")])
    assert out["gamma"] == pytest.approx(0.4) and out["start"] == {"alpha": 5.0, "m": 0.12}
    assert [p["point"] for p in out["points"]] == ["A", "B", "C", "D", "E"]
    assert out["t_grok"] > 0 and Path(out["figure"]).is_file()
