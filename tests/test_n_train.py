"""Grid axes beyond (w, m): (w, n_train) and (w, m, n_train) landscapes (SPEC §9, §11).

Files of every grid shape are built, checked and round-tripped; predictions select an N
(exact grid values) before integrating the state axes; the critical data size equals the
synthetic landscape's known value; `info`, `plot`, `predict`, `path` and `validate` handle
the shapes; a 1-D landscape is drawn as curves, never as a heatmap.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from reduced_dynamics.cli.main import main
from reduced_dynamics.engine.options import EventOptions, SolverOptions
from reduced_dynamics.engine.parameters import critical_n_train, grok_threshold_of
from reduced_dynamics.engine.predict import analyze_path, integrate, predict_grokking_times
from reduced_dynamics.errors import FileCheckError, InputError
from reduced_dynamics.io.landscape_file import (
    check_landscape,
    landscape_dataset,
    open_landscape,
    save_landscape,
)
from reduced_dynamics.io.resources import landscape_path
from reduced_dynamics.io.schema import FILE_KIND_ATTR, REQUIRED_ATTRS
from reduced_dynamics.testing.synthetic import (
    synthetic_landscape,
    synthetic_n_train_landscape,
    synthetic_wmn_landscape,
)

GAMMAS = [1e-3, 3e-3]
START = 30.0  # alpha, in region II at every N


@pytest.fixture(scope="module")
def nt() -> xr.Dataset:
    return synthetic_n_train_landscape()


@pytest.fixture(scope="module")
def nt_file(nt, tmp_path_factory) -> str:
    return str(save_landscape(nt, tmp_path_factory.mktemp("nt") / "nt.nc"))


def _no_task_threshold(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs["config_json"] = json.dumps({"synthetic": {}})
    return ds


# ----------------------------------------------------------------------------- files
def test_n_train_landscape_round_trip(nt, nt_file):
    back = open_landscape(nt_file)
    xr.testing.assert_identical(nt, back)
    assert back["train_loss"].dims == ("w", "n_train")
    assert np.issubdtype(back["n_train"].dtype, np.integer)
    assert "m" not in back.dims and "dtrain_dm" not in back


@pytest.mark.parametrize("with_m", [False, True])
@pytest.mark.parametrize("with_n", [False, True])
def test_landscape_dataset_builds_every_grid(with_m, with_n, tmp_path):
    """(w), (w, m), (w, n_train), (w, m, n_train), each with `*_by_seed` restarts."""
    w, m, n, seeds = np.geomspace(1, 10, 4), np.linspace(0, 1, 3), np.array([10, 20]), [0, 1]
    shape = (4,) + ((3,) if with_m else ()) + ((2,) if with_n else ())
    rng = np.random.default_rng(0)
    names = ["train_loss", "test_loss", "train_acc", "test_acc", "dtrain_dw",
             "tangent_grad_ratio"] + (["dtrain_dm"] if with_m else [])
    variables = {k: rng.uniform(0.1, 0.9, shape) for k in names}
    variables["converged"] = np.ones(shape, bool)
    variables["train_loss_by_seed"] = rng.uniform(0.1, 0.9, (2, *shape))
    ds = landscape_dataset(w, m if with_m else None, variables, task="t", preset="p",
                           config={}, w0=2.0, extra_dims={"seed": np.array(seeds)},
                           n_train=n if with_n else None)
    grid = ("w",) + (("m",) if with_m else ()) + (("n_train",) if with_n else ())
    assert ds["train_loss"].dims == grid
    assert ds["train_loss_by_seed"].dims == ("seed", *grid)
    back = open_landscape(save_landscape(ds, tmp_path / "l.nc"))
    xr.testing.assert_identical(ds, back)


def test_landscape_dataset_refuses_n_train_among_extra_dims():
    with pytest.raises(InputError, match="pass `n_train=`"):
        landscape_dataset(np.ones(2), None, {}, task="t", preset="p", config={}, w0=1.0,
                          extra_dims={"n_train": np.array([1, 2])})


@pytest.mark.parametrize("mutate, message", [
    (lambda ds: ds.assign_coords(n_train=ds["n_train"].values + 0.5),
     r"`n_train` must hold training-set sizes, integers >= 1, got \[10.5"),
    (lambda ds: ds.assign_coords(n_train=ds["n_train"].values - 10),
     r"`n_train` must hold training-set sizes, integers >= 1, got \[0, 8"),
    (lambda ds: ds.isel(n_train=[1, 0, 2]), r"`n_train` must be strictly increasing"),
    (lambda ds: ds.assign(train_loss=ds["train_loss"].isel(n_train=0, drop=True)),
     r"variable `train_loss` must have the file's grid dims \('w', 'n_train'\), has "
     r"\('w',\)"),
    (lambda ds: ds.drop_vars("n_train"), r"coordinate `n_train` \(the training-set sizes\) "
     r"is missing"),
    (lambda ds: ds.assign(test_acc=ds["test_acc"].expand_dims(batch=[0, 1])),
     r"unknown dimension\(s\) \['batch'\]; a landscape has dims \['w', 'm', 'seed', "
     r"'n_train'\] \(all but `w` optional\): a grid \(w\), \(w, m\), \(w, n_train\), "
     r"\(w, m, n_train\), plus `seed` for restarts"),
])
def test_check_refuses_bad_n_train_grids(nt, mutate, message):
    with pytest.raises(FileCheckError, match=message) as err:
        check_landscape(mutate(nt), "x.nc")
    assert "landscape file x.nc" in str(err.value) and "The file has dims" in str(err.value)


# ----------------------------------------------------------------------------- critical N
@pytest.mark.parametrize("n_critical", [56, 316, 1778])
def test_critical_data_size_is_the_synthetic_value(n_critical):
    ds = synthetic_n_train_landscape(n_critical=n_critical)
    crit = critical_n_train(ds)
    assert crit.n_train == n_critical
    k = crit.n_values.index(n_critical)
    assert crit.best[k] >= 0.95 > crit.best[k - 1]  # the tip of the thumb (Fig. 3b)
    assert crit.threshold_source == "the file's config_json task.grok_threshold"
    assert f"N_c = {n_critical}" in crit.describe()


def test_critical_data_size_thresholds(nt):
    # the file's threshold, else 0.95 (and it says which)
    assert grok_threshold_of(nt)[:2] == (0.95, "acc")
    bare = _no_task_threshold(nt)
    assert grok_threshold_of(bare) == (0.95, "acc",
                                       "the default (the file stores no task.grok_threshold)")
    assert critical_n_train(bare).n_train == 316
    # stricter thresholds need more data; unreachable ones give None
    ns = [critical_n_train(nt, t).n_train for t in (0.5, 0.9, 0.95, 0.99)]
    assert ns == sorted(ns) and ns[0] < ns[-1]
    assert critical_n_train(nt.isel(n_train=slice(0, 5))).n_train is None
    # a test-loss threshold: the smallest N whose best test loss is below it
    crit = critical_n_train(nt, 0.01, on="loss")
    best = nt["test_loss"].min("w").values
    assert crit.n_train == int(nt["n_train"].values[np.argmax(best <= 0.01)])
    # a task that stores a test-loss threshold (regression, SPEC §12)
    loss_task = nt.copy()
    loss_task.attrs["config_json"] = json.dumps({"task": {"grok_threshold": 0.01,
                                                          "grok_on": "loss"}})
    assert critical_n_train(loss_task).n_train == crit.n_train
    with pytest.raises(InputError, match="`threshold` is needed for on='loss'"):
        critical_n_train(nt, on="loss")
    with pytest.raises(InputError, match="needs a landscape with an n_train axis"):
        critical_n_train(synthetic_landscape())


# ----------------------------------------------------------------------------- predictions
def _closed_form_t_grok(ds: xr.Dataset, n: int, gamma: np.ndarray, eta: float) -> np.ndarray:
    """Region II is flat in w, so w(t) = w_start e^{-η γ t}; test_acc is linear in ln w
    between nodes: t_grok = ln(alpha_start / alpha_g) / (η γ), alpha_g its 0.95 crossing."""
    u = np.log(ds["alpha"].values)
    acc = ds["test_acc"].sel(n_train=n).values
    i = max(j for j in range(u.size - 1) if acc[j] >= 0.95 > acc[j + 1] and u[j] < np.log(START))
    u_g = u[i] + (0.95 - acc[i]) / (acc[i + 1] - acc[i]) * (u[i + 1] - u[i])
    return (np.log(START) - u_g) / (eta * np.asarray(gamma))


def test_predict_for_every_n_train_and_for_one(nt):
    res = predict_grokking_times(nt, GAMMAS, start=START)
    assert res["t_grok"].dims == ("n_train", "gamma")
    np.testing.assert_array_equal(res["n_train"].values, nt["n_train"].values)
    assert not {"m", "m_point", "start_m", "h", "theta"} & set(res.variables)
    t = res["t_grok"].sel(n_train=slice(None, 178)).values
    assert np.isnan(t).all()  # below the critical data size: no grokking
    at_c = res.sel(n_train=316)
    np.testing.assert_allclose(at_c["t_grok"].values,
                               _closed_form_t_grok(nt, 316, GAMMAS, 1e-3), rtol=1e-3)
    assert float(at_c["exponent"]) == pytest.approx(-1.0, abs=1e-3)
    one = predict_grokking_times(nt, GAMMAS, start=START, n_train=316)
    assert int(one["n_train"]) == 316 and one.attrs["n_train"] == 316
    np.testing.assert_array_equal(one["t_grok"].values, at_c["t_grok"].values)
    two = predict_grokking_times(nt, GAMMAS, start=START, n_train=[316, 562])
    np.testing.assert_array_equal(two["n_train"].values, [316, 562])


def test_n_train_selection_errors(nt):
    with pytest.raises(InputError, match=r"`n_train` must be one of the landscape's "
                       r"training-set sizes \[10, 18, .*, 10000\] \(predictions use grid "
                       r"values only; N is not interpolated\), got 317"):
        predict_grokking_times(nt, GAMMAS, start=START, n_train=317)
    with pytest.raises(InputError, match=r"has the parameter axis n_train .* choose one "
                       r"with `n_train`"):
        integrate(nt, [START], GAMMAS)
    with pytest.raises(InputError, match="has no n_train axis"):
        integrate(synthetic_landscape(), [(30.0, 0.1)], GAMMAS, n_train=316)
    with pytest.raises(InputError, match="this landscape has no m axis"):
        analyze_path(nt, 1e-3, start=(30.0, 0.1), n_train=316)


def test_path_on_one_n_train(nt):
    path = analyze_path(nt, 3e-3, start=START, n_train=316)
    assert int(path["n_train"]) == 316 and "m" not in path and "m_point" not in path
    np.testing.assert_allclose(float(path["t_grok"]),
                               _closed_form_t_grok(nt, 316, [3e-3], 1e-3)[0], rtol=1e-3)
    w = path["w"].values
    assert np.all(np.diff(w) <= 1e-12 * w[:-1])  # weight decay only shrinks w here


def test_wmn_landscape_selects_n_then_integrates_w_m():
    """On (w, m, n_train) the slice at N is the (w, m) landscape with that N's boundary."""
    ds = synthetic_wmn_landscape()
    check_landscape(ds)
    start, gammas = (35.5, 0.2), [1e-5, 2e-5]
    ev = EventOptions()
    times = {}
    for n in (35, 55):
        got = predict_grokking_times(ds, gammas, start=start, n_train=n, events=ev)
        ref = predict_grokking_times(synthetic_landscape(b=6.0 * 45 / n), gammas,
                                     start=start, events=ev)
        np.testing.assert_allclose(got["t_grok"].values, ref["t_grok"].values, rtol=1e-12)
        np.testing.assert_allclose(got["m_point"].values, ref["m_point"].values, rtol=1e-12)
        times[n] = got["t_grok"].values
    assert np.all(np.abs(times[55] / times[35] - 1) > 0.05)  # the selected N matters
    every = predict_grokking_times(ds, gammas, start=start, events=ev)
    assert every["t_grok"].dims == ("n_train", "gamma") and "m_point" in every


# ----------------------------------------------------------------------------- CLI
def test_cli_info_shows_the_axis_and_the_critical_data_size(nt_file, capsys):
    assert main(["info", nt_file]) == 0
    out = capsys.readouterr().out
    assert "n_train: [10, 18, 32, 56, 100, 178, 316" in out and "parameter axis" in out
    assert "critical data size N_c = 316" in out and "m:" not in out


def test_cli_plot_n_train_heatmaps_with_log_axes(nt, nt_file, tmp_path, capsys):
    from matplotlib.collections import QuadMesh

    from reduced_dynamics.plot.landscape import plot_n_train

    out = tmp_path / "nt.png"
    assert main(["plot", nt_file, "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    fig = plot_n_train(nt)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 3
    for ax in axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert any(isinstance(c, QuadMesh) for c in ax.get_children())
        assert "training-set size" in ax.get_ylabel()
    assert any(line.get_label() == "N_c = 316" for line in axes[2].get_lines())
    # one N of it is 1-D: curves
    assert main(["plot", nt_file, "--n-train", "316", "-o", str(tmp_path / "one.png")]) == 0
    assert main(["plot", nt_file, "--n-train", "300", "-o", str(tmp_path / "x.png")]) == 2
    assert "`--n-train` must be one of" in capsys.readouterr().err


def test_one_dimensional_landscape_is_drawn_as_curves(tmp_path):
    from matplotlib.collections import QuadMesh
    from matplotlib.image import AxesImage

    from reduced_dynamics.plot.landscape import plot_curves

    path = landscape_path("teacher_student.nc")
    fig = plot_curves(open_landscape(path))
    losses, accuracies = fig.axes  # the accuracies on a second y axis (linear)
    for ax in fig.axes:
        assert not any(isinstance(c, (QuadMesh, AxesImage)) for c in ax.get_children())
        assert ax.get_xscale() == "log" and "m" not in ax.get_ylabel()
    assert losses.get_yscale() == "log" and accuracies.get_yscale() == "linear"
    assert main(["plot", str(path), "-o", str(tmp_path / "ts.png")]) == 0
    assert (tmp_path / "ts.png").stat().st_size > 10_000


def test_cli_predict_every_n_and_one_n(nt_file, capsys):
    assert main(["predict", nt_file, "--gamma", "1e-3,3e-3", "--start", "30"]) == 0
    out = capsys.readouterr().out
    assert "n_train" in out.splitlines()[2] and out.count("no_grok_before_t_max") == 12
    assert "n_train = 316: fitted exponent: t_grok ~ gamma^p, p = -1.000" in out
    assert "critical data size N_c = 316" in out and "m =" not in out
    assert main(["predict", nt_file, "--gamma", "1e-3,3e-3", "--start", "30", "--n-train",
                 "316", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_train"] == 316 and res["start"] == {"alpha": 30.0}
    assert [r["n_train"] for r in res["rows"]] == [316, 316]
    assert res["critical_n_train"]["n_train"] == 316 and res["exponent"] == pytest.approx(-1.0,
                                                                                        abs=1e-3)
    assert main(["predict", nt_file, "--n-train", "317"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `--n-train` must be one of the landscape's training-set "
                          "sizes [10, 18,") and "N is not interpolated" in err
    assert main(["predict", nt_file, "--n-train", "316", "--start", "30,0.1"]) == 2
    assert "ALPHA = w/w0 > 0 alone (this landscape has no m)" in capsys.readouterr().err


def test_cli_path_on_one_n_train(nt_file, tmp_path, capsys):
    out = tmp_path / "path.png"
    assert main(["path", nt_file, "--n-train", "316", "--gamma", "1e-3", "--start", "30",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "n_train = 316, gamma = 0.001: status ok" in text and " m=" not in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["path", nt_file, "--gamma", "1e-3", "-o", str(out), "--overwrite"]) == 2
    assert "choose one with `--n-train`" in capsys.readouterr().err


# ----------------------------------------------------------------------------- validate
def _runs_on_the_prediction(ds: xr.Dataset, n: int, gammas: list[float]) -> xr.Dataset:
    """Trajectories that move as the reduced dynamics at N = n predicts (1-D: no m)."""
    pred = integrate(ds, [START], gammas, n_train=n, events=EventOptions(overfit_on="acc"),
                     solver=SolverOptions(stop_at_grok=False),  # runs go on after t_grok
                     ).isel(start=0, eta_d=0, eta_r=0)
    step = np.concatenate([[0], np.unique(np.round(np.geomspace(1, 6e6, 1500)).astype(int))])
    t = pred["time"].values
    logs = {k: np.array([np.interp(step, t, pred[k].values[g]) for g in range(len(gammas))])
            for k in ("w", "train_acc", "test_acc", "train_loss", "test_loss")}
    logs["m"] = logs["residual"] = np.zeros_like(logs["w"])

    def first(values):
        hit = values >= 0.95
        return np.where(hit.any(1), step[np.argmax(hit, 1)], np.nan).astype(float)

    k = len(gammas)
    return xr.Dataset(
        {v: (("run", "step"), x) for v, x in logs.items()}
        | {"t_overfit": ("run", first(logs["train_acc"])),
           "t_grok": ("run", first(logs["test_acc"]))},
        coords={"run": np.arange(k), "step": step, "gamma": ("run", gammas),
                "eta_d": ("run", np.full(k, 1e-3)), "eta_r": ("run", np.zeros(k)),
                "seed": ("run", np.zeros(k, int)), "alpha0": ("run", np.full(k, START)),
                "m0": ("run", np.zeros(k))},
        attrs={a: "x" for a in REQUIRED_ATTRS} | {"config_json": json.dumps(
            {"task": {**json.loads(ds.attrs["config_json"])["task"], "n_train": n}}),
            "w0": 14.0, FILE_KIND_ATTR: "trajectory"}
        | {a: ds.attrs[a] for a in ("task", "preset")})  # runs of the landscape's task


def test_validate_on_an_n_train_landscape(nt, tmp_path):
    from reduced_dynamics.validate import table, validate, write_report

    runs = _runs_on_the_prediction(nt, 316, [1e-3, 3e-3])
    report = validate(nt, runs)  # N from the runs' config_json task.n_train
    np.testing.assert_array_equal(report["n_train"].values, [316, 316])
    ratio = report["t_grok_ratio"].values  # runs: the sampled prediction, logged at steps
    assert np.all(ratio <= 1 + 1e-9) and np.all(ratio > 0.95)
    assert not {"m_measured", "m_predicted", "m0"} & set(report.variables)
    assert "     N " in table(report).splitlines()[0]
    bare = runs.copy()
    bare.attrs["config_json"] = "{}"
    with pytest.raises(InputError, match=r"pass `n_train` \(CLI `--n-train N`\)"):
        validate(nt, bare)
    again = validate(nt, bare, n_train=316)
    np.testing.assert_array_equal(again["t_grok_predicted"].values,
                                  report["t_grok_predicted"].values)
    paths = write_report(report, nt, tmp_path / "report")
    assert all(p.stat().st_size > 0 for p in paths)
