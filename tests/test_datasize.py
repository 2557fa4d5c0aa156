"""Data size on the (w, m) plane (Fig. 6e, SPEC §14): `reduced_dynamics.datasize`, the
boundary geometry of `engine.boundary`, the data-size file, its figure and the ``datasize``
command, on a (w, m, n_train) landscape whose answers are known.

The landscape: per N the `synthetic_landscape` L with a straight boundary
ln α = a0 + b_N m − δ x_θ on the contour l̃_train = θ (b_N = 6 N/45, so the contour tilts
more for more data and θ_N = atan(1/b_N) falls with N, as in the paper), a test loss with
its minimum near α = 30, and the generalising region set by hand: N = 45, 55 generalise
where m ≤ 0.04 (so the slide down the boundary to m = 0 enters it), N = 35 only where
m ≤ 0.04 and α ≥ 60 (deep in region II, off the boundary), N = 25 nowhere.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from conftest import assert_one_error
from scipy.optimize import brentq

from reduced_dynamics.cli.main import main
from reduced_dynamics.datasize import data_size_dependence
from reduced_dynamics.engine.boundary import chord_angle, slide
from reduced_dynamics.engine.options import EventOptions
from reduced_dynamics.engine.predict import predict_grokking_times
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.errors import FileCheckError, InputError
from reduced_dynamics.io.datasize_file import check_datasize, open_datasize, save_datasize
from reduced_dynamics.io.landscape_file import landscape_dataset, save_landscape
from reduced_dynamics.testing.synthetic import (
    _step,
    synthetic_landscape,
    synthetic_n_train_landscape,
)

NS = (25, 35, 45, 55)
A0, WIDTH, W0, M_STAR, ALPHA_STAR, THETA = math.log(2.5), 0.25, 14.0, 0.04, 30.0, 0.02
GAMMAS, START, ETA = [1e-5, 2e-5], (35.5, 0.2), 1e-3
M_NEXT = 0.0625  # the m node after M_STAR on the default grid linspace(0, 1, 21)**2


def b_of(n: int) -> float:
    return 6.0 * n / 45.0


# the contour l_train = theta: step(x) = theta - l_lo, ln(alpha) = a0 + b m - width x
X_THETA = brentq(lambda x: float(_step(np.array(x))[0]) - (THETA - 1e-3), -20.0, 20.0)


def contour_log_alpha(n: int, m: np.ndarray | float) -> np.ndarray:
    return A0 + b_of(n) * np.asarray(m) - WIDTH * X_THETA


def known_landscape() -> xr.Dataset:
    slices = []
    for n in NS:
        s = synthetic_landscape(b=b_of(n), a0=A0, width=WIDTH, w0=W0)
        a = np.log(s["alpha"].values)[:, None]
        m = s["m"].values[None, :]
        test = s["test_loss"].values + 0.01 * (a - math.log(ALPHA_STAR)) ** 2
        clean = np.broadcast_to(m <= M_STAR + 1e-12, test.shape)
        acc = {45: np.where(clean, 1.0, 0.0), 55: np.where(clean, 1.0, 0.0),
               35: np.where(clean & (a >= math.log(60.0)), 1.0, 0.0),
               25: np.full(test.shape, 0.5)}[n]
        slices.append(s.assign(test_loss=(("w", "m"), test), test_acc=(("w", "m"), acc)))
    first = slices[0]
    variables = {k: np.stack([s[k].transpose("w", "m").values for s in slices], axis=-1)
                 for k in first.data_vars}
    return landscape_dataset(first["w"].values, first["m"].values, variables,
                             task="synthetic", preset="fig6e-known", config={"synthetic": {}},
                             w0=W0, n_train=np.asarray(NS), history="tests/test_datasize.py")


@pytest.fixture(scope="module")
def land() -> xr.Dataset:
    return known_landscape()


@pytest.fixture(scope="module")
def land_file(land, tmp_path_factory) -> str:
    return str(save_landscape(land, tmp_path_factory.mktemp("ds") / "known.nc"))


@pytest.fixture(scope="module")
def res(land) -> xr.Dataset:
    return data_size_dependence(land, GAMMAS, ETA, ETA, START)


def _index(res: xr.Dataset, n: int) -> int:
    return list(res["n_train"].values).index(n)


# ----------------------------------------------------------------------------- geometry
def test_contour_is_the_analytic_boundary(land, res):
    """Every traced contour point lies on ln α = a0 + b_N m − δ x_θ (within the
    interpolation error of the step's corner) and the interpolant gives θ there."""
    assert res.attrs["theta_train"] == THETA  # Fig. 6e's 0.02 by default
    for n in NS:
        k = _index(res, n)
        alpha, m = res["contour_alpha"].values[k], res["contour_m"].values[k]
        ok = np.isfinite(alpha) & (m <= 0.3)
        assert ok.sum() > 50
        dev = np.abs(np.log(alpha[ok]) - contour_log_alpha(n, m[ok]))
        assert dev.max() < 0.04, (n, dev.max())
        loss = prepare_landscape(land, n_train=n).interp.evaluate(alpha[ok] * W0, m[ok])
        np.testing.assert_allclose(loss["train_loss"], THETA, rtol=0.01)


def test_verdicts_connect_where_the_region_meets_the_boundary(res):
    connects = dict(zip(NS, res["connects"].values.tolist()))
    assert connects == {25: False, 35: False, 45: True, 55: True}
    # the slide enters G at the contour where the bilinear accuracy crosses 0.95
    m_in = M_STAR + 0.05 * (M_NEXT - M_STAR)
    for n in (45, 55):
        k = _index(res, n)
        assert float(res["connect_m"][k]) == pytest.approx(m_in, abs=1e-6)
        assert math.log(float(res["connect_alpha"][k])) == pytest.approx(
            float(contour_log_alpha(n, m_in)), abs=0.02)
    for n in (25, 35):
        assert np.isnan(float(res["connect_alpha"][_index(res, n)]))
    # every slide runs down the straight boundary to the m = 0 edge
    assert set(res["slide_end"].values.tolist()) == {"m_min_edge"}
    np.testing.assert_allclose(res["slide_end_m"].values, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.log(res["slide_end_alpha"].values),
                               contour_log_alpha(45, 0.0), atol=0.01)
    assert set(res["anchor_from"].values.tolist()) == {"C"}


def test_generalising_region_and_star(res):
    assert float(res["region_fraction"][_index(res, 25)]) == 0.0
    assert np.isnan(float(res["star_alpha"][_index(res, 25)]))
    assert float(res["best_test"][_index(res, 25)]) == 0.5
    for n in (45, 55):  # the test-loss minimum, on the clean edge
        k = _index(res, n)
        assert float(res["star_m"][k]) == 0.0
        assert abs(math.log(float(res["star_alpha"][k]) / ALPHA_STAR)) < 0.1
        assert float(res["star_test_acc"][k]) == 1.0
    assert float(res["star_alpha"][_index(res, 35)]) >= 60.0  # its G is off the boundary


def test_reduced_dynamics_agree_with_the_verdicts(res):
    never = dict(zip(NS, res["never_grok"].values.tolist()))
    assert never == {25: True, 35: True, 45: False, 55: False}
    assert res["agrees"].values.all()
    assert set(res["status"].values[:2].ravel()) == {"no_grok_before_t_max"}
    assert np.all(np.isfinite(res["t_grok"].values[2:]))
    assert np.all(res["t_grok_ratio"].values < 1.0)  # t_55 < t_45 at every gamma


def test_geometric_numbers(res):
    """θ_N = atan(1/b_N) for the straight boundary (the engine's D'E' angle and the slide's
    chord); L = ln w_C − ln w_E' with E' on the contour at m_E = 0; h = m_C − m_E;
    t = (L + h tan θ)/(η_D γ)."""
    g = res["gamma"].values
    for n in NS:
        k = _index(res, n)
        expected = math.atan(1.0 / b_of(n))
        np.testing.assert_allclose(res["theta"].values[k], expected, rtol=0.01)
        assert float(res["slide_theta"][k]) == pytest.approx(expected, rel=0.01)
        c, e = 2, 4  # points A B C D E
        alpha_c, m_c = res["alpha_point"].values[k, :, c], res["m_point"].values[k, :, c]
        np.testing.assert_allclose(res["m_point"].values[k, :, e], 0.0, atol=1e-9)
        np.testing.assert_allclose(res["L"].values[k],
                                   np.log(alpha_c) - contour_log_alpha(n, 0.0), atol=0.01)
        np.testing.assert_allclose(res["h"].values[k], m_c, atol=1e-9)
    t = res["t_geometric"].values
    ok = np.isfinite(t)
    assert ok[2:].all() and not ok[:2].any()  # only paths that grok get a time
    want = (res["L"].values + res["h"].values * np.tan(res["theta"].values)) / (ETA * g)
    np.testing.assert_allclose(t[ok], want[ok], rtol=1e-12)
    # thetas fall with N, and so does the geometric time
    assert np.all(np.diff(res["theta"].values[:, 0]) < 0)
    assert np.all(t[3] < t[2])


def test_the_times_are_the_engines(land, res):
    """Nothing is computed twice: the per-(N, γ) numbers are `predict_grokking_times`'."""
    events = EventOptions(theta_train=THETA)
    for n in (35, 55):
        ref = predict_grokking_times(land, GAMMAS, ETA, ETA, START, events=events, n_train=n)
        k = _index(res, n)
        for key in ("t_overfit", "t_grok", "t_geometric", "L", "h", "theta"):
            np.testing.assert_array_equal(res[key].values[k], ref[key].values, err_msg=key)


def test_slide_walks_towards_smaller_w_and_stops(land):
    """On hand-made lines: the walk goes the way u falls, stops after u rises by more
    than tol (at the minimum), and names the edge an open line ends on."""
    it = prepare_landscape(land, n_train=45).interp
    lo = float(it.ug[0])
    line = np.array([[lo + 3.0, 0.5], [lo + 2.0, 0.3], [lo + 1.0, 0.1], [lo + 0.5, 0.0]])
    walk, end = slide((line,), (lo + 2.5, 0.4), it, tol=0.01)
    assert end == "m_min_edge" and walk[0, 0] == pytest.approx(lo + 2.5)
    assert walk[-1].tolist() == [lo + 0.5, 0.0]
    assert chord_angle(walk) == pytest.approx(math.atan2(0.4, 2.0))
    bowl = np.array([[lo + 3.0, 0.6], [lo + 2.0, 0.4], [lo + 1.5, 0.3], [lo + 2.0, 0.2],
                     [lo + 3.0, 0.1]])
    walk, end = slide((bowl[::-1],), (lo + 2.5, 0.5), it, tol=0.01)  # either orientation
    assert end == "stationary" and walk[-1].tolist() == [lo + 1.5, 0.3]
    left = np.array([[lo + 1.0, 0.5], [lo, 0.4]])
    assert slide((left,), (lo + 1.0, 0.5), it, tol=0.01)[1] == "w_min_edge"
    assert slide((), (lo, 0.1), it, tol=0.01)[1] == "no_contact"
    assert slide((line,), (float("nan"), float("nan")), it, tol=0.01)[1] == "no_contact"


# ----------------------------------------------------------------------------- files
def test_file_round_trip_and_checks(res, tmp_path):
    path = save_datasize(res, tmp_path / "d.nc")
    back = open_datasize(path)
    xr.testing.assert_identical(res, back)
    assert back.attrs["reduced_dynamics_file"] == "datasize"
    bad = res.drop_vars("connects")
    with pytest.raises(FileCheckError, match="required variable `connects` is missing"):
        check_datasize(bad)
    with pytest.raises(FileCheckError, match="unknown values"):
        check_datasize(res.assign(slide_end=("n_train", ["nowhere"] * 4)))


def test_open_datasize_refuses_a_landscape(land_file):
    with pytest.raises(FileCheckError, match="this is a landscape file, not a datasize file"):
        open_datasize(land_file)


def test_figure(res):
    from matplotlib.figure import Figure

    from reduced_dynamics.plot.datasize import plot_datasize

    fig = Figure()
    ax = fig.subplots()
    assert plot_datasize(res, ax=ax) is fig
    gids = {line.get_gid() for line in ax.lines}
    assert {"slide_25", "slide_55", "star_45", "star_55", "connect_45", "connect_55",
            "start"} <= gids
    assert "star_25" not in gids and "connect_35" not in gids
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("N=25: no connection (m_min_edge)")
    assert "never groks" in labels[0] and "connects at alpha=" in labels[3]
    assert ax.get_xscale() == "log"
    with pytest.raises(InputError, match="`result` must be the Dataset"):
        plot_datasize(xr.Dataset())


# ----------------------------------------------------------------------------- CLI
def test_cli_prints_the_table_and_writes_file_and_figure(land_file, tmp_path, capsys):
    out, fig = tmp_path / "d.nc", tmp_path / "d.png"
    args = ["datasize", land_file, "--gamma", "1e-5,2e-5", "--start", "35.5,0.2",
            "--eta-d", "1e-3", "--eta-r", "1e-3"]
    assert main([*args, "-o", str(out), "--plot", str(fig)]) == 0
    text = capsys.readouterr().out
    rows = {int(ln.split()[0]): ln.split()[1] for ln in text.splitlines()
            if ln.split() and ln.split()[0].isdigit() and len(ln.split()) == 11}
    assert rows == {25: "no", 35: "no", 45: "yes", 55: "yes"}
    assert "never grok (no gamma): N = 25, N = 35" in text
    assert "t_grok(55) < t_grok(45): yes (2 of 2 gamma(s)" in text
    assert f"wrote {out}" in text and fig.read_bytes()[:4] == b"\x89PNG"
    assert "datasize" in open_datasize(out).attrs["history"]
    # info and plot read the file back
    assert main(["info", str(out)]) == 0
    assert "never grok (no gamma): N = 25, N = 35" in capsys.readouterr().out
    assert main(["plot", str(out), "-o", str(tmp_path / "again.png")]) == 0
    capsys.readouterr()
    assert main([*args, "--n-train", "45,55", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["n_train"] == [45, 55] and rec["never_grok"] == []
    assert [r["connects"] for r in rec["per_n"]] == [True, True]
    assert rec["compare"]["n_faster"] == 2 and len(rec["rows"]) == 4
    # the output exists now: refused before any work
    rc = main([*args, "-o", str(out)])
    assert_one_error(rc, capsys.readouterr().err, "exists", "--overwrite")


def test_predict_one_n_on_a_w_m_n_landscape(land_file, capsys):
    """`predict --n-train N` integrates the 2-D dynamics on the slice N."""
    assert main(["predict", land_file, "--n-train", "55", "--gamma", "1e-5", "--start",
                 "35.5,0.2", "--eta-d", "1e-3", "--eta-r", "1e-3", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["n_train"] == 55 and rec["start"]["m"] == 0.2
    assert rec["rows"][0]["status"] == "ok" and rec["rows"][0]["t_grok"] > 0


@pytest.mark.parametrize("extra, fragments", [
    (["--n-train", "40"], ("`--n-train` must be one of the landscape's training-set sizes "
                           "[25, 35, 45, 55]", "got 40")),
    (["--theta-train", "-1"], ("`theta_train` must be a finite loss threshold > 0", "-1")),
    (["--n-grid", "5"], ("`--n-grid` must be an integer from 20 to 2001, got 5",)),
    (["--start", "35.5"], ("`--start` must be ALPHA,M",)),
    (["--start", "500,0.2"], ("lies outside the landscape grid",)),
])
def test_cli_refuses_bad_arguments(land_file, extra, fragments, capsys):
    rc = main(["datasize", land_file, "--gamma", "1e-5", *extra])
    assert_one_error(rc, capsys.readouterr().err, *fragments)


def test_cli_refuses_landscapes_without_m_or_n_train(tmp_path, capsys):
    no_n = str(save_landscape(synthetic_landscape(), tmp_path / "wm.nc"))
    rc = main(["datasize", no_n])
    assert_one_error(rc, capsys.readouterr().err, "needs a (w, m, n_train) landscape",
                     "without an n_train axis")
    no_m = str(save_landscape(synthetic_n_train_landscape(), tmp_path / "wn.nc"))
    rc = main(["datasize", no_m])
    assert_one_error(rc, capsys.readouterr().err, "without an m axis")


def test_api_refuses_bad_arguments(land):
    with pytest.raises(InputError, match="PreparedLandscape is one slice"):
        data_size_dependence(prepare_landscape(land, n_train=45))
    with pytest.raises(InputError, match="`n_grid` must be an integer from 20 to 2001"):
        data_size_dependence(land, n_grid=3)
    with pytest.raises(InputError, match=r"disagrees with `events\.theta_train`"):
        data_size_dependence(land, theta_train=0.03, events=EventOptions(theta_train=0.05))
    with pytest.raises(InputError, match="`n_train` must be one of"):
        data_size_dependence(land, n_train=[45, 50])
    with pytest.raises(InputError, match="`start` must be one"):
        data_size_dependence(land, GAMMAS, start=[(35.5, 0.2), (30.0, 0.1)])
