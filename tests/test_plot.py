"""Figures (issue 16): top-level plot functions, ``ax=`` sequences, labelled colour bars,
accuracies on the landscape and path figures, no-grok paths, and the runs figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

import reduced_dynamics as rd
from reduced_dynamics.cli.main import main
from reduced_dynamics.engine.predict import analyze_path
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.errors import InputError
from reduced_dynamics.io.landscape_file import save_landscape
from reduced_dynamics.io.schema import provenance_attrs
from reduced_dynamics.io.trajectory_file import save_trajectories
from reduced_dynamics.names import RunStatus
from reduced_dynamics.plot.predictions import label_points
from reduced_dynamics.testing.synthetic import synthetic_landscape, synthetic_n_train_landscape

ROOT = Path(__file__).resolve().parents[1]
DIGITS_RUNS = ROOT / "docs" / "data" / "digits_sizes.nc"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def land() -> xr.Dataset:
    return synthetic_landscape()


@pytest.fixture(scope="module")
def land_1d(land) -> xr.Dataset:
    return land.isel(m=0).drop_vars(["m", "dtrain_dm"])


@pytest.fixture(scope="module")
def path(land) -> xr.Dataset:
    return analyze_path(land, 2e-5, start=(30.0, 0.05))


def _vlines(ax) -> dict[str, float]:
    """label -> x of the vertical lines (axvline) on ``ax``."""
    out = {}
    for line in ax.lines:
        x = np.asarray(line.get_xdata(), float)
        if x.size == 2 and x[0] == x[1] and not line.get_label().startswith("_"):
            out[line.get_label()] = float(x[0])
    return out


# ----------------------------------------------------------------------- top level
def test_plot_functions_are_top_level_and_lazy():
    from reduced_dynamics.plot import landscape, predictions, runs

    for name, module in (("plot_landscape", landscape), ("plot_t_grok_vs_gamma", landscape),
                         ("plot_validation_paths", landscape), ("plot_path", predictions),
                         ("plot_path_1d", predictions), ("plot_gamma", predictions),
                         ("plot_runs", runs)):
        assert getattr(rd, name) is getattr(module, name) and name in rd.__all__, name
    code = ("import sys, reduced_dynamics as rd\n"
            "assert 'matplotlib' not in sys.modules\n"
            "rd.plot_runs, rd.plot_landscape\n"  # the runs and landscape figures: no numba
            "assert not {'numba', 'torch'} & set(sys.modules), sorted(sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


# ----------------------------------------------------------------------- paths
def test_plot_path_takes_the_open_landscape_dataset(land, path):
    """What `analyze_path` took, not only a PreparedLandscape: four panels + two colour
    bars; the accuracy panel marks t_grok where the path grokked."""
    fig = rd.plot_path(land, path)
    assert len(fig.axes) == 6
    acc = fig.axes[3]
    assert acc.get_ylabel() == "reduced accuracy"
    t_grok = float(path["t_grok"])
    assert np.isfinite(t_grok)
    assert _vlines(acc)[f"t_grok = {t_grok:.4g}"] == pytest.approx(t_grok)
    assert [c.get_ylabel() for c in fig.axes[4:]] == ["log10 train_loss", "log10 test_loss"]
    target = Figure()
    assert rd.plot_path(prepare_landscape(land), path, ax=target.subplots(2, 2)) is target
    with pytest.raises(InputError, match="4 panel"):
        rd.plot_path(land, path, ax=Figure().subplots())


def test_plot_path_selects_the_paths_n_train_and_draws_1d():
    """A path of an n_train landscape carries n_train: the figure selects that N; a path on
    a landscape without m gets the 1-D figure, alpha on its own labelled axis."""
    nt = synthetic_n_train_landscape()
    path = analyze_path(nt, 3e-3, start=30.0, n_train=316)
    fig = rd.plot_path(nt, path)
    assert fig.get_suptitle().startswith("n_train = 316, gamma = 0.003")
    _, ax_t, ax_a, ax_alpha = fig.axes
    assert ax_t.get_ylabel() == "reduced loss" and ax_alpha.get_ylabel() == r"$\alpha = w / w_0$"
    assert ax_a.get_ylabel() == "reduced accuracy"
    t_grok = float(path["t_grok"])
    assert _vlines(ax_a)[f"t_grok = {t_grok:.4g}"] == pytest.approx(t_grok)
    assert rd.plot_path_1d(nt, path, ax=Figure().subplots(1, 3)) is not None
    with pytest.raises(InputError, match="n_train = 100"):
        rd.plot_path(prepare_landscape(nt, n_train=100), path)


def test_coincident_path_points_share_one_label():
    """B and C at one spot: one label "B=C", not two glyphs on top of each other; D just
    above C gets another corner."""
    ax = Figure().subplots()
    x = np.array([5.0, 4.96, 4.96, 2.5, 0.1])
    m = np.array([0.12, 0.072, 0.072, 0.0025, 0.0027])
    drawn = label_points(ax, list("ABCDE"), x, m, x_range=(0.1, 100.0), y_range=(0.0, 1.0))
    assert drawn == ["A", "B=C", "D", "E"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == drawn
    on_1d = label_points(Figure().subplots(), list("ABCDE"), np.array([2.0, 2, 2, np.nan, 0.1]),
                         np.array([1e-6, 1e-6, 1e-6, np.nan, 1e-2]), x_range=(0.1, 10),
                         y_range=(1e-12, 1), log_y=True)
    assert on_1d == ["A=B=C", "E"]


def test_path_time_marks_merge_points_at_one_time(land, path):
    """The time axes label points at one t once ("B=C" style), never twice."""
    fig = rd.plot_path(land, path)
    labels = [t.get_text() for t in fig.axes[2].texts]
    t_point = path["t_point"].values
    shown = t_point[np.isfinite(t_point) & (t_point > 0)]
    assert len(labels) == np.unique(np.round(np.log(shown), 6)).size
    assert sorted("".join(labels).replace("=", "")) == sorted(
        str(n) for n, t in zip(path["point"].values, t_point) if np.isfinite(t) and t > 0)


# ----------------------------------------------------------------------- landscapes
def test_plot_landscape_takes_sequences_of_axes(land, land_1d):
    target = Figure()
    axes = target.subplots(1, 3)
    assert rd.plot_landscape(land, ax=axes) is target
    assert rd.plot_landscape(land, ax=list(axes)) is target
    assert not target.get_suptitle()  # the caller's figure title is left alone
    for wrong, fragment in ((Figure().subplots(), "got one Axes"),
                            (Figure().subplots(1, 2), "got 2 Axes"),
                            ("axes", "got a str")):
        with pytest.raises(InputError, match=fragment) as err:
            rd.plot_landscape(land, ax=wrong)
        assert "3 panel(s)" in str(err.value) and "fig.subplots(1, 3)" in str(err.value)
    with pytest.raises(InputError, match="one figure"):
        rd.plot_landscape(land, ax=[Figure().subplots(), *Figure().subplots(1, 2)])
    with pytest.raises(InputError, match="disagree"):
        rd.plot_landscape(land, ax=Figure().subplots(1, 3), fig=Figure())
    one = Figure()
    assert rd.plot_landscape(land_1d, ax=[one.subplots()]) is one
    nt = Figure()
    assert rd.plot_landscape(synthetic_n_train_landscape(), ax=nt.subplots(1, 3)) is nt


def test_colour_bars_name_their_variable(land):
    fig = rd.plot_landscape(land)
    assert [c.get_ylabel() for c in fig.axes[3:]] == ["train_loss", "test_loss"]
    fig = rd.plot_landscape(synthetic_n_train_landscape())
    assert [c.get_ylabel() for c in fig.axes[3:]] == ["train_loss", "test_loss",
                                                       "1 - test_acc"]


def test_1d_landscape_curves_show_accuracies_and_the_grok_threshold(land_1d):
    ds = land_1d.copy()
    ds.attrs["config_json"] = json.dumps({"task": {"grok_threshold": 0.9}})
    fig = rd.plot_landscape(ds)
    acc = fig.axes[1]
    assert acc.get_ylabel().startswith("reduced accuracy")
    ys = {line.get_label(): line.get_ydata() for line in acc.lines}
    np.testing.assert_array_equal(ys["test accuracy (right)"], ds["test_acc"].values)
    np.testing.assert_array_equal(ys["train accuracy (right)"], ds["train_acc"].values)
    assert list(ys["grok: test_acc >= 0.9 (right)"]) == [0.9, 0.9]


# ----------------------------------------------------------------------- no-grok paths
def _prediction(t_grok: list[float]) -> xr.Dataset:
    """A `predict_grokking_times`-shaped result over three γ (only what the figure reads)."""
    g = np.array([1e-3, 2e-3, 4e-3])
    t = np.array(t_grok, float)
    grokked = np.isfinite(t)
    status = np.where(grokked, "left_domain", "no_grok_before_t_max")
    ds = xr.Dataset({"t_grok": ("gamma", t), "t_overfit": ("gamma", np.full(3, 10.0)),
                     "t_closed": ("gamma", np.array([900.0, 450.0, 220.0])),
                     "t_geometric": ("gamma", np.array([1000.0, 500.0, 250.0])),
                     "status": ("gamma", status), "exponent": ((), np.nan),
                     "exponent_stderr": ((), np.nan), "intercept": ((), np.nan)},
                    coords={"gamma": g},
                    attrs={"start_alpha": 30.0, "start_m": 0.05, "eta_d": 1e-3})
    if grokked.sum() >= 2:
        p, c = np.polyfit(np.log(g[grokked]), np.log(t[grokked]), 1)
        ds["exponent"], ds["intercept"] = p, c
    return ds


def test_plot_gamma_draws_no_forms_for_paths_that_never_grok():
    fig = rd.plot_gamma(_prediction([np.nan, np.nan, np.nan]))
    ax = fig.axes[0]
    gids = {line.get_gid() for line in ax.lines}
    assert not {"t_closed", "t_geometric", "t_grok", "fit"} & gids
    assert "no_grok" in gids
    text = " ".join(t.get_text() for t in ax.texts)
    assert "no path groks" in text and "no_grok_before_t_max x3" in text
    fig = rd.plot_gamma(_prediction([np.nan, 600.0, 300.0]))
    by_gid = {line.get_gid(): line for line in fig.axes[0].lines}
    for key in ("t_grok", "t_closed", "t_geometric"):
        np.testing.assert_array_equal(by_gid[key].get_xdata(), [2e-3, 4e-3])
    assert "fit" in by_gid and not fig.axes[0].texts
    np.testing.assert_array_equal(by_gid["no_grok"].get_xdata(), [1e-3])


def test_plot_gamma_over_several_n_train():
    """`predict_grokking_times` over every N: t_grok per N, one legend entry for the N
    whose paths never grok."""
    pred = xr.concat([_prediction([np.nan, 600.0, 300.0]), _prediction([np.nan] * 3)],
                     dim=xr.DataArray([100, 300], dims="n_train", name="n_train"))
    ax = rd.plot_gamma(pred).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "N=100: t_grok (integrated)" in labels and "N=300: t_grok (integrated)" not in labels
    assert "no grok (at every gamma for N = 300)" in labels
    assert not any(line.get_gid() in ("t_closed", "t_geometric") for line in ax.lines)


def test_plot_t_grok_vs_gamma_says_when_no_prediction_groks():
    n = 3
    report = xr.Dataset(
        {"t_grok_measured": ("run", [500.0, 300.0, np.nan]),
         "t_grok_predicted": ("run", np.full(n, np.nan)),
         "t_overfit_measured": ("run", np.full(n, 50.0)),
         "t_overfit_predicted": ("run", np.zeros(n)),
         "status_predicted": ("run", np.full(n, "no_grok_before_t_max"))},
        coords={"gamma": ("run", [1e-3, 2e-3, 4e-3])},
        attrs={"exponent_measured": -0.7, "exponent_measured_stderr": 0.1,
               "exponent_predicted": np.nan})
    ax = rd.plot_t_grok_vs_gamma(report).axes[0]
    assert not any(line.get_label().startswith("predicted t_grok") for line in ax.lines)
    assert "no predicted path groks" in ax.texts[0].get_text()


# ----------------------------------------------------------------------- runs files
def _runs(*, diverge: bool = False) -> xr.Dataset:
    """Six runs: 3 γ x 2 alpha0, test accuracy rising at run-dependent steps; the file's
    t_grok is stale (0.95) while the task's threshold is 0.8."""
    step = np.array([0, 1, 10, 100, 1000, 10_000, 30_000])
    gamma = np.repeat([0.1, 0.2, 0.4], 2)
    alpha0 = np.tile([2.0, 8.0], 3)
    n = gamma.size
    centre = np.array([1.5, 2.0, 2.5, 3.0, 3.5, 4.0])  # log10 step of the rise
    x = np.log10(np.maximum(step, 1))[None, :]
    test_acc = 1 / (1 + np.exp(-4 * (x - centre[:, None])))
    train_acc = np.clip(test_acc + 0.3, 0, 1)
    w = (alpha0[:, None] * 14.0) * np.exp(-1e-5 * gamma[:, None] * step[None, :])
    data = {"w": w, "m": np.zeros((n, step.size)), "residual": np.zeros((n, step.size)),
            "train_loss": 1 - train_acc + 1e-4, "test_loss": 1 - test_acc + 1e-4,
            "train_acc": train_acc, "test_acc": test_acc}
    ds = xr.Dataset({k: (("run", "step"), v) for k, v in data.items()},
                    coords={"run": np.arange(n), "step": step, "gamma": ("run", gamma),
                            "eta_d": ("run", np.full(n, 1e-3)),
                            "eta_r": ("run", np.full(n, 1e-3)),
                            "seed": ("run", np.zeros(n, int)), "alpha0": ("run", alpha0),
                            "m0": ("run", np.zeros(n))},
                    attrs=provenance_attrs("trajectory", title="test runs", task="synthetic",
                                           preset="lu", config={"task": {"grok_threshold":
                                                                         0.8}},
                                           w0=14.0, history="test", torch_version="none"))
    ds["t_overfit"] = ("run", np.full(n, 100.0))
    ds["t_grok"] = ("run", np.full(n, 30_000.0))  # stale: not what the figure draws
    status = np.zeros(n, np.int8)
    diverged_step = np.full(n, np.nan)
    if diverge:
        status[-1], diverged_step[-1] = RunStatus.DIVERGED, 10_000.0
        for var in data:
            ds[var][-1, step >= 10_000] = np.nan
    ds["status"] = ("run", status)
    ds["diverged_step"] = ("run", diverged_step)
    return ds


def _expected_t_grok(ds: xr.Dataset, threshold: float) -> np.ndarray:
    """First logged step with test_acc >= threshold, by hand."""
    out = []
    for acc in ds["test_acc"].values:
        hit = np.flatnonzero(acc >= threshold)
        out.append(float(ds["step"].values[hit[0]]) if hit.size else np.nan)
    return np.array(out)


def test_plot_runs_rows_panels_and_recomputed_t_grok(tmp_path):
    ds = _runs(diverge=True)
    path = save_trajectories(ds, tmp_path / "runs.nc")
    fig = rd.plot_runs(rd.open_trajectories(path))
    assert len(fig.axes) == 6  # rows: alpha0 = 2, 8; panels: accuracy, loss, norm
    titles = [a.get_title() for a in fig.axes]
    assert titles[0] == "alpha0 = 2: accuracy" and titles[5] == "alpha0 = 8: norm"
    expected = _expected_t_grok(ds, 0.8)
    assert np.isfinite(expected[:5]).all() and not np.array_equal(expected,
                                                                  ds["t_grok"].values)
    drawn = sorted(float(line.get_xdata()[0]) for a in fig.axes[0::3] for line in a.lines
                   if line.get_gid() == "t_grok")
    assert drawn == sorted(expected[np.isfinite(expected)].tolist())
    threshold = [line for line in fig.axes[0].lines if list(line.get_ydata()) == [0.8, 0.8]]
    assert threshold, "the grok threshold line"
    crosses = [line for a in fig.axes[1::3] for line in a.lines if line.get_gid() == "diverged"]
    assert len(crosses) == 1 and float(crosses[0].get_xdata()[0]) == 1000.0
    from matplotlib.legend import Legend

    def legends(ax):
        return [[t.get_text() for t in c.get_texts()] for c in ax.get_children()
                if isinstance(c, Legend)]

    (first,), (second,) = legends(fig.axes[2]), legends(fig.axes[5])
    assert first[:8] == ["gamma = 0.1", "gamma = 0.2", "gamma = 0.4", "", "test", "train",
                         "t_grok", "t_overfit"]
    assert second == ["gamma = 0.1", "gamma = 0.2", "gamma = 0.4 (diverged)"]
    assert "grok: test_acc >= 0.8" in fig.get_suptitle()


def test_plot_runs_options_and_errors():
    ds = _runs()
    fig = rd.plot_runs(ds, max_rows=1)
    assert len(fig.axes) == 3 and "showing 1 of 2 rows (alpha0)" in fig.get_suptitle()
    fig = rd.plot_runs(ds, by="alpha0")  # rows: gamma
    assert len(fig.axes) == 9 and fig.axes[0].get_title() == "gamma = 0.1: accuracy"
    target = Figure()
    assert rd.plot_runs(ds, ax=target.subplots(2, 3)) is target
    with pytest.raises(InputError, match="6 panel"):
        rd.plot_runs(ds, ax=target.subplots(1, 3))
    with pytest.raises(InputError, match=r"`by` must be one of the runs' settings "
                       r"\['gamma', .*got 'nonsense'"):
        rd.plot_runs(ds, by="nonsense")
    with pytest.raises(InputError, match="no n_train coordinate"):
        rd.plot_runs(ds, n_train=100)


def test_cli_plot_draws_a_runs_file(tmp_path, capsys):
    out = tmp_path / "f.png"
    assert main(["plot", str(DIGITS_RUNS), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_bytes()[:8] == PNG
    one = tmp_path / "one.png"
    assert main(["plot", str(DIGITS_RUNS), "--n-train", "300", "-o", str(one)]) == 0
    assert one.read_bytes()[:8] == PNG
    capsys.readouterr()
    for extra, fragment in ((["--n-train", "7"], "`--n-train` must be one of the runs' "
                             "training-set sizes [100, 150, 200, 300, 500, 1000, 1500], got 7"),
                            (["--boundary", "0.1"], "`--boundary` applies to landscape files")):
        assert main(["plot", str(DIGITS_RUNS), *extra, "-o", str(tmp_path / "x.png")]) == 2
        assert fragment in capsys.readouterr().err
    land = save_landscape(synthetic_landscape(), tmp_path / "l.nc")
    assert main(["plot", str(land), "--by", "gamma", "-o", str(tmp_path / "y.png")]) == 2
    assert "`--by` applies to trajectory (runs) files" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()
