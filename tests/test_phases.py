"""Phase diagrams (SPEC §15): the rule, the predicted diagram on a landscape whose times are
known, the measured diagram of hand-made runs, their comparison, the file, the figures and
the ``phases`` command.

The landscape: `testing.analytic.exact_landscape` (region II has l̃_train exactly constant,
so from a start there ln w falls as u(t) = u_0 − η_D γ t with m fixed, train accuracy is 1
from step 0, and test accuracy reaches 0.95 at u_g: t_test = (u_0 − u_g)/(η_D γ)), with
both accuracies set to 0 for m ≥ 0.49 (the nodes from m = 0.49 up), so that a path held
at m0 = 0.81 (η_R = 0) never fits nor generalises (confusion). From alpha0 = 50 (u_0 = ln 100):
u_0 − u_g = 1.598, so t_test = 1598 at η_D γ = 1e-3 (grokking: gap ≥ τ = 1e3), 159.8 at
1e-2 (comprehension), 1.6e5 at 1e-5 (> T = 1e5: memorisation), never at γ = 0.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from conftest import assert_one_error

from reduced_dynamics.cli.main import main
from reduced_dynamics.cli.phases import phases_table
from reduced_dynamics.errors import FileCheckError, InputError
from reduced_dynamics.io.landscape_file import landscape_dataset, save_landscape
from reduced_dynamics.io.phases_file import check_phases, open_phases, save_phases
from reduced_dynamics.io.schema import provenance_attrs
from reduced_dynamics.io.trajectory_file import save_trajectories
from reduced_dynamics.names import PHASE_NAMES, PathStatus, Phase
from reduced_dynamics.phases import (
    PhaseThresholds,
    classify,
    compare_phases,
    measured_phases,
    predicted_phases,
)
from reduced_dynamics.testing.analytic import IG, exact_landscape

C, G, M, X = (int(p) for p in Phase)  # comprehension, grokking, memorisation, confusion
ALPHA0 = 50.0
M_GOOD, M_BAD = 0.04, 0.81
ETA_D = [1e-4, 1e-3, 1e-2]
GAMMA = [0.0, 0.01, 1.0, 10.0]


def known_landscape(ig: int = IG) -> tuple[xr.Dataset, float]:
    """(the module docstring's landscape with test accuracy stepping at node ``ig``, its
    distance u_0 - u_g from alpha0 = 50)."""
    ds, c = exact_landscape()
    u, m = c["u"], c["m"]
    test_acc = np.broadcast_to(np.where(u <= u[ig], 1.0, 0.0)[:, None], (u.size, m.size))
    variables = {k: ds[k].transpose("w", "m").values.copy() for k in ds.data_vars}
    variables["test_acc"] = test_acc.copy()
    for k in ("train_acc", "test_acc"):
        variables[k][:, m >= 0.49 - 1e-12] = 0.0
    out = landscape_dataset(ds["w"].values, m, variables, task="analytic", preset="pchip",
                            config={"p": 1}, w0=float(ds.attrs["w0"]))
    u_g = u[ig] + 0.05 * (u[ig + 1] - u[ig])
    return out, float(np.log(ALPHA0 * ds.attrs["w0"]) - u_g)


@pytest.fixture(scope="module")
def land():
    return known_landscape()[0]


@pytest.fixture(scope="module")
def pred(land):
    return predicted_phases(land, grid={"eta_d": ETA_D, "gamma": GAMMA},
                            start=(ALPHA0, M_GOOD), eta_r=1e-3)


# ------------------------------------------------------------------------------ the rule
def test_classify_follows_spec_15_at_its_edges():
    T, tau = 1e5, 1e3
    cases = [  # (t_train, t_test, phase)
        (0.0, 999.0, C), (0.0, 1000.0, G), (10.0, 1009.9, C), (10.0, 1010.0, G),
        (5e4, 1e5, G), (5e4, 1e5 + 1, M), (0.0, np.nan, M), (1e5, np.nan, M),
        (np.nan, np.nan, X), (2e5, 3e5, X), (np.nan, 500.0, C), (2e5, 5e4, C),
        (5000.0, 100.0, C),  # generalises before it fits: a negative gap
    ]
    t_train, t_test, want = (np.array(v) for v in zip(*cases))
    assert classify(t_train, t_test, T, tau).tolist() == want.tolist()
    assert classify(t_train, t_test, T, tau).dtype == np.int8
    # a smaller budget turns grokking at 1e5 into memorisation
    assert classify([5e4], [1e5], 9e4, tau).tolist() == [M]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"T": 1.0}, "`T` must be a finite step budget > 1"),
    ({"tau": -1.0}, "`tau` must be a finite gap >= 0"),
    ({"T": float("nan")}, "`T` must be"),
])
def test_classify_refuses_a_bad_budget(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        classify([0.0], [1.0], **kwargs)


def test_thresholds_are_checked_and_read_from_the_task():
    with pytest.raises(InputError, match="`train_acc` must be a train accuracy"):
        PhaseThresholds(train_acc=1.5)
    with pytest.raises(InputError, match="`test` must be a test accuracy"):
        PhaseThresholds(test=2.0)
    assert PhaseThresholds(test=2.0, test_on="loss").test == 2.0
    ds = xr.Dataset(attrs={"config_json": json.dumps(
        {"task": {"grok_threshold": 0.9, "train_acc_threshold": 0.9}})})
    assert PhaseThresholds.of(ds) == PhaseThresholds(train_acc=0.9, test=0.9)
    assert PhaseThresholds.of(xr.Dataset(attrs={"config_json": "{}"})) == PhaseThresholds()
    bad = xr.Dataset(attrs={"config_json": json.dumps({"task": {"train_acc_threshold": 0}})})
    with pytest.raises(FileCheckError, match="train_acc_threshold"):
        PhaseThresholds.of(bad)


# ------------------------------------------------------------------------------ predicted
def test_predicted_times_and_phases_are_the_known_ones(pred):
    _, dist = known_landscape()
    rate = np.outer(ETA_D, GAMMA)
    with np.errstate(divide="ignore"):
        exact = dist / rate
    within = exact <= 1e5
    assert pred["phase"].dims == ("eta_d", "gamma")
    assert pred["eta_d"].values.tolist() == ETA_D and pred["gamma"].values.tolist() == GAMMA
    np.testing.assert_allclose(pred["t_test"].values[within], exact[within], rtol=1e-6)
    assert np.isnan(pred["t_test"].values[~within]).all()
    assert (pred["t_train"].values == 0.0).all()
    assert pred["phase"].values.tolist() == [[M, M, G, G], [M, M, G, C], [M, G, C, C]]
    a = pred.attrs
    assert (a["T"], a["tau"], a["diagram"], a["alpha0"], a["m0"], a["eta_r"]) == (
        1e5, 1e3, "predicted", ALPHA0, M_GOOD, 1e-3)
    assert "predicted_phases" in a["history"] and a["landscape_source"] == "<Dataset>"
    assert pred["phase"].attrs["flag_meanings"] == " ".join(PHASE_NAMES)
    assert pred["phase"].attrs["flag_values"].tolist() == [0, 1, 2, 3]


def test_every_phase_on_an_m0_by_gamma_grid(land):
    """η_R = 0 holds m at m0: from m0 = 0.81 the path slides on into region I (where
    l̃_train falls with m, so with η_R > 0 it would reach m = 0 and generalise there)."""
    res = predicted_phases(land, grid={"m0": [M_GOOD, M_BAD], "gamma": [0.0, 1.0, 10.0]},
                           start=(ALPHA0, 0.5), eta_d=1e-3, eta_r=0.0)
    assert res["phase"].dims == ("m0", "gamma")
    assert res["phase"].values.tolist() == [[M, G, C], [X, X, X]]
    assert np.isnan(res["t_train"].values[1]).all()  # the bad row never fits
    assert "left the landscape grid" not in phases_table(res)
    left = res.copy(deep=True)
    left["path_status"][1, 1:] = PathStatus.LEFT_DOMAIN
    assert "note: 2 cell(s) whose path left the landscape grid" in phases_table(left)
    # the axis order of `grid` is the dims' order
    flipped = predicted_phases(land, grid={"gamma": [0.0, 1.0, 10.0], "m0": [M_GOOD, M_BAD]},
                               start=(ALPHA0, 0.5), eta_d=1e-3, eta_r=0.0)
    assert flipped["phase"].dims == ("gamma", "m0")
    assert flipped["phase"].values.tolist() == np.array([[M, G, C], [X, X, X]]).T.tolist()


def test_alpha0_axis_moves_t_test_as_the_distance(land):
    _, dist = known_landscape()
    alphas = [25.0, ALPHA0]
    res = predicted_phases(land, grid={"alpha0": alphas, "gamma": [1.0, 2.0]},
                           start=(1.0, M_GOOD), eta_d=1e-3)
    dist_a = dist - np.log(ALPHA0 / np.array(alphas))
    np.testing.assert_allclose(res["t_test"].values, dist_a[:, None] / (1e-3 * np.array(
        [1.0, 2.0]))[None, :], rtol=1e-6)


def test_n_train_axis_predicts_each_slice():
    """Two slices whose test accuracy steps at different nodes: t_test per N as known."""
    (a, dist_a), (b, dist_b) = known_landscape(IG), known_landscape(IG - 2)
    variables = {k: np.stack([s[k].transpose("w", "m").values for s in (b, a)], axis=-1)
                 for k in a.data_vars}
    both = landscape_dataset(a["w"].values, a["m"].values, variables, task="analytic",
                             preset="pchip", config={"p": 1}, w0=float(a.attrs["w0"]),
                             n_train=np.array([20, 40]))
    res = predicted_phases(both, grid={"n_train": [20, 40], "gamma": [1.0, 10.0]},
                           start=(ALPHA0, M_GOOD), eta_d=1e-3)
    assert res["n_train"].values.tolist() == [20, 40]
    want = np.array([[dist_b], [dist_a]]) / (1e-3 * np.array([[1.0, 10.0]]))
    np.testing.assert_allclose(res["t_test"].values, want, rtol=1e-6)
    with pytest.raises(InputError, match="choose one with `n_train`"):
        predicted_phases(both, grid={"eta_d": ETA_D, "gamma": GAMMA}, start=(ALPHA0, M_GOOD))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"grid": {"eta_d": ETA_D}}, "`grid` must have exactly two axes"),
    ({"grid": {"eta_d": ETA_D, "lr": [1, 2]}}, "unknown: ['lr']"),
    ({"grid": {"eta_d": [1e-3, 1e-3], "gamma": GAMMA}}, "distinct values"),
    ({"grid": {"eta_d": ETA_D, "gamma": [-1.0, 1.0]}}, "`gamma` must be finite and >= 0"),
    ({"grid": {"eta_d": ETA_D, "gamma": GAMMA}, "gamma": 1.0}, "also a grid axis"),
    ({"grid": {"eta_d": ETA_D, "n_train": [1, 2]}}, "has no n_train axis"),
    ({"grid": {"alpha0": [1e4, 2e4], "gamma": GAMMA}}, "lies outside the landscape grid"),
    ({"grid": {"eta_d": ETA_D, "gamma": GAMMA}, "T": 0.5}, "`T` must be"),
    ({"grid": "eta_d"}, "`grid` must be a dict"),
])
def test_predicted_phases_refuses_bad_input(land, kwargs, fragment):
    with pytest.raises(InputError) as err:
        predicted_phases(land, **{"start": (ALPHA0, M_GOOD), **kwargs})
    assert fragment in str(err.value)


# ------------------------------------------------------------------------------ measured
STEPS = np.array([0, 10, 100, 300, 1000, 2000, 5000, 10_000, 50_000, 100_000])


def make_runs(times: dict, *, eta_d=ETA_D, gamma=GAMMA, m0=None, config=None) -> xr.Dataset:
    """A trajectory Dataset of an eta_d x gamma sweep: ``times[(i, j)]`` lists per seed
    (t_train, t_test) (None: never); accuracies are 0 before those steps and 1 from them."""
    rows = []
    for (i, j), seeds in sorted(times.items()):
        for s, (tr, te) in enumerate(seeds):
            rows.append((eta_d[i], gamma[j], s, tr, te))
    n = len(rows)

    def acc(t):
        return np.zeros(STEPS.size) if t is None else (STEPS >= t).astype(float)

    train = np.array([acc(r[3]) for r in rows])
    test = np.array([acc(r[4]) for r in rows])
    shape = (n, STEPS.size)
    data = {"w": np.full(shape, 100.0), "m": np.full(shape, M_GOOD), "residual": np.zeros(shape),
            "train_loss": 1 - train + 1e-3, "test_loss": 1 - test + 1e-3, "train_acc": train,
            "test_acc": test}
    coords = {"run": np.arange(n), "step": STEPS,
              "eta_d": ("run", [r[0] for r in rows]), "gamma": ("run", [r[1] for r in rows]),
              "eta_r": ("run", np.full(n, 1e-3)), "seed": ("run", [r[2] for r in rows]),
              "alpha0": ("run", np.full(n, ALPHA0)),
              "m0": ("run", np.full(n, M_GOOD) if m0 is None else m0)}
    ds = xr.Dataset({k: (("run", "step"), v) for k, v in data.items()}, coords=coords,
                    attrs=provenance_attrs("trajectory", title="hand-made runs",
                                           task="analytic", preset="pchip",
                                           config=config or {"p": 1}, w0=2.0, history="test",
                                           torch_version="none"))
    ds["t_overfit"] = ("run", np.full(n, np.nan))
    ds["t_grok"] = ("run", np.full(n, np.nan))
    return ds


def runs_like(phases: list[list[int]]) -> xr.Dataset:
    """One seed per cell with the given phases (times chosen to give them)."""
    times = {C: (0, 100), G: (0, 2000), M: (0, None), X: (None, None)}
    return make_runs({(i, j): [times[p]] for i, row in enumerate(phases)
                      for j, p in enumerate(row)})


def test_measured_phases_majority_counts_and_medians():
    grid = {(i, j): [(0, 2000)] * 3 for i in range(3) for j in range(4)}
    grid[(0, 0)] = [(0, 2000), (0, 2000), (10, 100)]  # G, G, C: grokking
    grid[(0, 1)] = [(0, None), (None, None), (100, 300)]  # M, X, C: a tie, comprehension
    grid[(0, 2)] = [(0, 100), (10, None), (None, None)]  # t_train median 10; t_test NaN
    res = measured_phases(make_runs(grid), T=1e5, tau=1e3)
    assert res["phase"].dims == ("eta_d", "gamma")
    assert res["phase"].values[0, :3].tolist() == [G, C, C]
    assert (res["phase"].values[1:] == G).all()
    assert res["phase_count"].values[0, 0].tolist() == [1, 2, 0, 0]
    assert res["phase_count"].values[0, 1].tolist() == [1, 0, 1, 1]
    assert res["t_train"].values[0, 2] == 10.0 and np.isnan(res["t_test"].values[0, 2])
    assert res["t_test"].values[0, 0] == 2000.0
    assert res.attrs["runs"] == 36 and res.attrs["runs_per_cell_min"] == 3
    assert res.attrs["m0"] == M_GOOD and res.attrs["eta_r"] == 1e-3


def test_measured_phases_use_the_task_thresholds_and_the_budget():
    runs = make_runs({(i, j): [(0, 2000)] for i in range(3) for j in range(4)},
                     config={"task": {"grok_threshold": 0.8, "train_acc_threshold": 0.9}})
    runs["test_acc"][:] = np.where(STEPS >= 2000, 0.85, 0.0)  # >= 0.8, below 0.95
    runs["train_acc"][:] = np.where(STEPS >= 10, 0.92, 0.0)
    res = measured_phases(runs)
    assert (res["t_train"].values == 10.0).all() and (res["t_test"].values == 2000.0).all()
    assert (res.attrs["train_threshold"], res.attrs["test_threshold"]) == (0.9, 0.8)
    assert (measured_phases(runs, thresholds=PhaseThresholds())["phase"].values == X).all()
    short = measured_phases(runs, T=1500.0)  # t_test beyond the budget: memorisation
    assert (short["phase"].values == M).all() and np.isnan(short["t_test"].values).all()


def test_measured_phases_refuse_runs_that_are_no_full_grid():
    full = {(i, j): [(0, 100)] for i in range(3) for j in range(4)}
    holed = dict(full)
    del holed[(2, 3)]
    with pytest.raises(InputError, match=r"`runs` <Dataset>: the runs do not form a full "
                       r"grid of eta_d x gamma \(3 x 4 values\): 1 cell\(s\) have no run"):
        measured_phases(make_runs(holed))
    m0 = np.where(np.arange(12) % 2 == 0, M_GOOD, 0.09)
    with pytest.raises(InputError, match="the per-run coordinates that vary are"):
        measured_phases(make_runs(full, m0=m0))  # three axes vary
    with pytest.raises(InputError, match="per-run coordinate `m0` takes 2 values"):
        measured_phases(make_runs(full, m0=m0), axes=("eta_d", "gamma"))
    with pytest.raises(InputError, match="`T` = 200000: the runs of <Dataset> are logged "
                       "up to step 100000 only"):
        measured_phases(make_runs(full), T=2e5)
    with pytest.raises(InputError, match="`axes` must be two different names"):
        measured_phases(make_runs(full), axes=("eta_d", "eta_d"))


# ----------------------------------------------------------------------------- compare
def test_compare_counts_agreement_and_confusion(pred):
    want = pred["phase"].values.tolist()  # [[M, M, G, G], [M, M, G, C], [M, G, C, C]]
    changed = [row[:] for row in want]
    changed[0][0] = X  # measured confusion where memorisation was predicted
    changed[2][3] = G  # measured grokking where comprehension was predicted
    meas = measured_phases(runs_like(changed))
    cmp = compare_phases(pred, meas)
    assert float(cmp["agreement"]) == pytest.approx(10 / 12)
    table = cmp["confusion"]
    assert table.dims == ("measured", "predicted")
    assert int(table.sel(measured="confusion", predicted="memorisation")) == 1
    assert int(table.sel(measured="grokking", predicted="comprehension")) == 1
    assert np.diag(table.values).tolist() == [2, 4, 4, 0]
    assert int(table.sum()) == 12
    assert not bool(cmp["agrees"].values[0, 0]) and bool(cmp["agrees"].values[1, 1])


def test_compare_refuses_other_grids_and_rules(pred):
    small = measured_phases(make_runs({(i, j): [(0, 100)] for i in range(2) for j in range(4)},
                                      eta_d=ETA_D[:2]))
    with pytest.raises(InputError, match="`meas`: its grid differs from `pred`'s"):
        compare_phases(pred, small)
    meas = measured_phases(runs_like(pred["phase"].values.tolist()), T=5e4)
    with pytest.raises(InputError, match=r"its rule's `T` = 50000\.0 differs"):
        compare_phases(pred, meas)
    with pytest.raises(InputError, match="`meas` must be a phase diagram Dataset"):
        compare_phases(pred, xr.Dataset())


# ------------------------------------------------------------------------------- files
def test_file_round_trip_and_checks(pred, tmp_path):
    back = open_phases(save_phases(pred, tmp_path / "p.nc"))
    xr.testing.assert_identical(pred, back)
    assert back.attrs["reduced_dynamics_file"] == "phases"
    meas = measured_phases(runs_like(pred["phase"].values.tolist()))
    xr.testing.assert_identical(meas, open_phases(save_phases(meas, tmp_path / "m.nc")))
    tampered = pred.copy(deep=True)
    tampered["phase"][0, 0] = C
    with pytest.raises(FileCheckError, match=r"disagrees with the rule .* at 1 cell"):
        check_phases(tampered)
    tampered["phase"][0, 0] = 7
    with pytest.raises(FileCheckError, match="unknown codes"):
        check_phases(tampered)
    with pytest.raises(FileCheckError, match="global attribute `tau` is missing"):
        check_phases(_without(pred, "tau"))
    late = pred.copy(deep=True)
    late["t_test"][0, 2] = 2e5
    with pytest.raises(FileCheckError, match=r"`t_test` must be a step in \[0, T"):
        check_phases(late)


def _without(ds: xr.Dataset, attr: str) -> xr.Dataset:
    out = ds.copy()
    out.attrs.pop(attr)
    return out


def test_open_phases_refuses_a_landscape(land, tmp_path):
    path = save_landscape(land, tmp_path / "l.nc")
    with pytest.raises(FileCheckError, match="not a phases file"):
        open_phases(path)


# ------------------------------------------------------------------------------ figures
def test_figures(pred):
    from matplotlib.figure import Figure

    from reduced_dynamics.plot.phases import cell_edges, plot_phase_comparison, plot_phases

    fig = Figure()
    ax = fig.subplots()
    assert plot_phases(pred, ax=ax) is fig
    mesh = next(c for c in ax.collections if c.get_gid() == "phases")
    assert np.asarray(mesh.get_array()).reshape(4, 3).tolist() == pred["phase"].values.T.tolist()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["comprehension (3)", "grokking (4)", "memorisation (5)", "confusion (0)"]
    np.testing.assert_allclose(cell_edges(np.array([1e-4, 1e-3, 1e-2]), True),
                               [10**-4.5, 10**-3.5, 10**-2.5, 10**-1.5])
    np.testing.assert_allclose(cell_edges(np.array([0.0, 1.0, 3.0]), False),
                               [-0.5, 0.5, 2.0, 4.0])
    changed = pred["phase"].values.tolist()
    changed[0][0] = X
    both = plot_phase_comparison(pred, measured_phases(runs_like(changed)))
    assert "agreement 92% (11 of 12 cells)" in both._suptitle.get_text()
    assert [a.get_title() for a in both.axes[:2]] == ["predicted", "measured"]
    with pytest.raises(InputError, match="`ds` must be a phase-diagram Dataset"):
        plot_phases(xr.Dataset())


# ---------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def files(land, pred, tmp_path_factory):
    folder = tmp_path_factory.mktemp("phases")
    land_file = str(save_landscape(land, folder / "land.nc"))
    changed = pred["phase"].values.tolist()
    changed[0][0] = X
    runs_file = str(save_trajectories(runs_like(changed), folder / "runs.nc"))
    return land_file, runs_file


GRID = ["--eta-d", "1e-4,1e-3,1e-2", "--gamma", "0,0.01,1,10", "--alpha0", "50",
        "--m0", "0.04", "--eta-r", "1e-3"]


def test_cli_predicted_diagram_file_figure_info_and_plot(files, pred, tmp_path, capsys):
    land_file, _ = files
    out, fig = tmp_path / "p.nc", tmp_path / "p.png"
    assert main(["phases", land_file, *GRID, "-o", str(out), "--plot", str(fig)]) == 0
    text = capsys.readouterr().out
    assert "predicted phases of" in text and "grokking" in text
    assert "  1e-04" not in text  # the map's rows are gamma values, top down
    assert "left the landscape grid" not in text  # every path stays on it
    rows = [ln for ln in text.splitlines() if " | " in ln]
    assert [r.split(" | ")[1] for r in rows] == ["GCC", "GGC", "MMG", "MMM"]
    saved = open_phases(out)
    assert saved["phase"].values.tolist() == pred["phase"].values.tolist()
    assert "reduced-dynamics phases" in saved.attrs["history"]
    assert fig.read_bytes()[:4] == b"\x89PNG"
    assert main(["info", str(out)]) == 0
    assert "phase-diagram file (SPEC 15)" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["kind"] == "phases" and rec["counts"]["memorisation"] == 5
    assert main(["plot", str(out), "-o", str(tmp_path / "again.png")]) == 0


def test_cli_with_runs_compares_on_the_runs_grid(files, tmp_path, capsys):
    land_file, runs_file = files
    assert main(["phases", land_file, "--runs", runs_file, "--json",
                 "--measured-output", str(tmp_path / "m.nc"), "-o", str(tmp_path / "p.nc"),
                 "--plot", str(tmp_path / "both.png")]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["comparison"]["agreeing_cells"] == 11 and rec["comparison"]["cells"] == 12
    counts = rec["comparison"]["confusion"]["counts"]
    assert counts[X][M] == 1 and sum(map(sum, counts)) == 12
    assert rec["predicted"]["alpha0"] == ALPHA0 and rec["predicted"]["m0"] == M_GOOD
    assert open_phases(tmp_path / "m.nc").attrs["diagram"] == "measured"
    # the table, and the measured diagram alone without a landscape
    assert main(["phases", land_file, "--runs", runs_file]) == 0
    text = capsys.readouterr().out
    assert "agreement: 0.917 (11 of 12 cells)" in text
    assert "confusion table (rows: measured, columns: predicted):" in text
    assert main(["phases", "--runs", runs_file, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert set(rec) == {"measured", "wrote"} and rec["measured"]["counts"]["confusion"] == 1


@pytest.mark.parametrize("args, fragments", [
    (["--eta-d", "1e-4,1e-3"], ("needs exactly two grid options", "got ['--eta-d']")),
    (["--eta-d", "0,1e-3", "--gamma", "0,1"], ("`--eta-d` must be learning rates > 0",)),
    (["--eta-d", "1e-4,1e-3", "--gamma", "lin:0:10"], ("`--gamma` could not be read",)),
    (["--eta-d", "1e-4,1e-3", "--gamma", "0,1", "--T", "0"], ("`--T` must be",)),
    (["--eta-d", "1e-4,1e-3", "--gamma", "0,1", "--train-acc", "2"], ("`--train-acc`",)),
    (["--eta-d", "1e-4,1e-3", "--gamma", "0,1", "--alpha0", "1e5", "--m0", "0.04"],
     ("lies outside the landscape grid",)),
    (["--m0", "0,2", "--gamma", "0,1"], ("`--m0` must be messiness values in [0, 1]",)),
])
def test_cli_refuses_bad_arguments(files, args, fragments, tmp_path, capsys):
    out = tmp_path / "never.nc"
    rc = main(["phases", files[0], *args, "-o", str(out)])
    assert_one_error(rc, capsys.readouterr().err, *fragments)
    assert not out.exists()


def test_cli_refuses_a_grid_other_than_the_runs(files, capsys):
    land_file, runs_file = files
    rc = main(["phases", land_file, "--runs", runs_file, "--eta-d", "1e-4,1e-3",
               "--gamma", "0,1"])
    assert_one_error(rc, capsys.readouterr().err, "describe another grid than the runs")


def test_predictions_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; import reduced_dynamics.phases, reduced_dynamics.cli.phases, "
            "reduced_dynamics.io.phases_file, reduced_dynamics.plot.phases; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------- the committed teacher-student runs
def test_teacher_student_runs_agree_with_their_predicted_diagram():
    """64 full runs over alpha0 x gamma (examples/liu2022_phase_study.py, committed): the
    reduced dynamics predicts at least 90 % of the cells' phases, and every grokking time
    (measured >= tau) within 2x."""
    from pathlib import Path

    from reduced_dynamics.phases import prediction_arguments

    root = Path(__file__).resolve().parent.parent
    meas = measured_phases(root / "docs" / "data" / "teacher_student_phase_runs.nc")
    pred = predicted_phases(root / "landscapes" / "teacher_student.nc",
                            **prediction_arguments(meas))
    assert float(compare_phases(pred, meas)["agreement"]) >= 0.9
    tm = meas["t_test"].values
    tp = pred["t_test"].transpose(*meas["t_test"].dims).values
    slow = np.isfinite(tm) & (tm >= 1e3)
    assert slow.sum() >= 30 and np.all(np.isfinite(tp[slow]))
    assert np.all(np.abs(np.log(tp[slow] / tm[slow])) <= np.log(2.0))
