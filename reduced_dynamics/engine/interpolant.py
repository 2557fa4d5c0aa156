"""Smooth interpolant of a (w, m) landscape over (u = log w, m), with first derivatives.

Losses: a bicubic polynomial per cell of the *transformed* loss g (``transform="log"``:
g = ln max(l, floor), the default, since losses span decades and must stay positive;
``"linear"``: g = l). With ``derivatives="spline"`` the node derivatives g_u, g_m, g_um
come from not-a-knot cubic splines along each axis (scipy ``CubicSpline``), and each cell
stores the 16 coefficients of

    g(u, m) = Σ_{a,b=0..3} c_ab s^a t^b,   s = (u - u_i)/Δu_i,  t = (m - m_j)/Δm_j,

so the interpolant equals the tensor-product cubic spline (``RectBivariateSpline`` with
s=0). The loss and its gradient are l = e^g, ∂l/∂u = l ∂g/∂u, ∂l/∂m = l ∂g/∂m.

Accuracies are step-like (multiples of 1/N_test): they are interpolated *bilinearly*, which
never overshoots the node values.

Node derivatives: ``derivatives="pchip"`` (the default) uses Fritsch–Carlson
monotone derivatives along each axis instead: C¹, local, no overshoot, and exactly flat
where the data are flat. The global spline is more accurate where the landscape is
resolved, but rings out of the sharp corner of the L into the flat region II, and there
even tiny spurious gradients, integrated over the long slow phase (~1/(η_D γ) steps), move
paths (observed: spurious m-drift and 10²–10³× more steps on a synthetic landscape).

Noisy probes: ``smoothing > 0`` fits a FITPACK smoothing spline to g first (the allowed
mean-square deviation per node, in units of g: 0.01 with the log transform means ~10 % rms
in l) and rebuilds the cells from it (exact: its knots are grid nodes). ``monotone=True``
replaces train_loss by its running minimum along increasing w (the reduced train loss is
in principle non-increasing in w). Both are off by default: the raw probe is interpolated.

A 1-D landscape (no ``m``) is represented as a 2-D one with the dummy grid m ∈ {0, 1} and
values constant in m, so every kernel (and the ODE with η_R = 0) is reused unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy.interpolate import CubicSpline, PchipInterpolator, RectBivariateSpline

from reduced_dynamics.engine._jit import njit
from reduced_dynamics.errors import FileCheckError, InputError, bad_value

# layer indices in Interpolant.coef and Interpolant.nodes
TRAIN, TEST = 0, 1
TRANSFORMS = ("log", "linear")
DERIVATIVES = ("spline", "pchip")
NEEDED_VARS = ("train_loss", "test_loss", "train_acc", "test_acc")

_HERMITE = np.array([[1.0, 0.0, 0.0, 0.0],
                     [0.0, 0.0, 1.0, 0.0],
                     [-3.0, 3.0, -2.0, -1.0],
                     [2.0, -2.0, 1.0, 1.0]])


def kernel_array(a: object, dtype: type = np.float64) -> np.ndarray:
    """C-contiguous, writeable array of ``dtype`` (one numba signature for every call)."""
    return np.require(np.asarray(a, dtype=dtype), dtype=dtype, requirements=["C", "W", "A"])


# ----------------------------------------------------------------------------- kernels
@njit
def find_cell(grid: np.ndarray, x: float) -> tuple[int, float]:
    """Cell ``i`` with grid[i] <= x < grid[i+1] and s = (x - grid[i])/Δ.

    One probe at the evenly-spaced position (exact for a uniform grid, e.g. u = ln w of a
    log-spaced w grid), then binary search (non-uniform grids, e.g. m dense near 0).

    x outside the grid is clamped to it (s in [0, 1]); callers that must not extrapolate
    check the domain themselves.
    """
    n = grid.shape[0]
    if x <= grid[0]:
        return 0, 0.0
    if x >= grid[n - 1]:
        return n - 2, 1.0
    # first probe where an evenly spaced grid would have the cell (exact for log-spaced w)
    i = int((x - grid[0]) / (grid[n - 1] - grid[0]) * (n - 1))
    if i > n - 2:
        i = n - 2
    if grid[i] <= x < grid[i + 1]:
        return i, (x - grid[i]) / (grid[i + 1] - grid[i])
    lo = 0
    hi = n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if grid[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo, (x - grid[lo]) / (grid[lo + 1] - grid[lo])


@njit
def bicubic_value(c: np.ndarray, s: float, t: float) -> float:
    """Σ c[4a+b] s^a t^b (Horner in both variables)."""
    f = 0.0
    for a in range(3, -1, -1):
        k = 4 * a
        row = c[k] + t * (c[k + 1] + t * (c[k + 2] + t * c[k + 3]))
        f = f * s + row
    return f


@njit
def bicubic_grad(c: np.ndarray, s: float, t: float) -> tuple[float, float, float]:
    """(p, ∂p/∂s, ∂p/∂t) of p(s, t) = Σ c[4a+b] s^a t^b."""
    f = 0.0
    fs = 0.0
    ft = 0.0
    for a in range(3, -1, -1):
        k = 4 * a
        row = c[k] + t * (c[k + 1] + t * (c[k + 2] + t * c[k + 3]))
        drow = c[k + 1] + t * (2.0 * c[k + 2] + 3.0 * t * c[k + 3])
        fs = fs * s + f
        f = f * s + row
        ft = ft * s + drow
    return f, fs, ft


@njit
def bilinear(v: np.ndarray, i: int, j: int, s: float, t: float) -> float:
    """Bilinear interpolation of node values v[i:i+2, j:j+2] (no overshoot)."""
    return ((1.0 - s) * ((1.0 - t) * v[i, j] + t * v[i, j + 1])
            + s * ((1.0 - t) * v[i + 1, j] + t * v[i + 1, j + 1]))


@njit
def transformed(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, k: int,
                u: float, m: float) -> float:
    """Value of the transformed loss g of layer ``k`` at (u, m) (clamped to the grid)."""
    i, s = find_cell(ug, u)
    j, t = find_cell(mg, m)
    return bicubic_value(coef[k, i, j], s, t)


@njit
def loss_grad(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, k: int, log_scale: bool,
              u: float, m: float) -> tuple[float, float, float]:
    """(l, ∂l/∂u, ∂l/∂m) of layer ``k`` at (u, m); l = e^g when ``log_scale``."""
    i, s = find_cell(ug, u)
    j, t = find_cell(mg, m)
    g, gs, gt = bicubic_grad(coef[k, i, j], s, t)
    gu = gs / (ug[i + 1] - ug[i])
    gm = gt / (mg[j + 1] - mg[j])
    if log_scale:
        lv = np.exp(g)
        return lv, lv * gu, lv * gm
    return g, gu, gm


@njit
def node_value(ug: np.ndarray, mg: np.ndarray, nodes: np.ndarray, k: int,
               u: float, m: float) -> float:
    """Bilinear value of node layer ``k`` (an accuracy) at (u, m)."""
    i, s = find_cell(ug, u)
    j, t = find_cell(mg, m)
    return bilinear(nodes[k], i, j, s, t)


@njit
def eval_points(ug: np.ndarray, mg: np.ndarray, coef: np.ndarray, nodes: np.ndarray,
                log_scale: bool, u: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(n, 8): l_train, ∂u, ∂m, l_test, ∂u, ∂m, train_acc, test_acc at each (u[p], m[p])."""
    out = np.empty((u.shape[0], 8))
    for p in range(u.shape[0]):
        a, b, c = loss_grad(ug, mg, coef, 0, log_scale, u[p], m[p])
        out[p, 0] = a
        out[p, 1] = b
        out[p, 2] = c
        a, b, c = loss_grad(ug, mg, coef, 1, log_scale, u[p], m[p])
        out[p, 3] = a
        out[p, 4] = b
        out[p, 5] = c
        out[p, 6] = node_value(ug, mg, nodes, 0, u[p], m[p])
        out[p, 7] = node_value(ug, mg, nodes, 1, u[p], m[p])
    return out


# ----------------------------------------------------------------------------- building
def node_derivatives(ug: np.ndarray, mg: np.ndarray, g: np.ndarray, smoothing: float = 0.0,
                     method: str = "pchip"
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(g, g_u, g_m, g_um) at the nodes.

    ``method="spline"``: of the tensor-product not-a-knot cubic spline through g (C²);
    ``"pchip"``: Fritsch–Carlson monotone derivatives along each axis (C¹, local: no
    ringing, zero slope at flat stretches and local extrema). ``smoothing > 0``: of a
    FITPACK smoothing spline with residual sum ≤ smoothing·n_nodes (either method).
    """
    if smoothing > 0:
        ky = min(3, mg.size - 1)
        spl = RectBivariateSpline(ug, mg, g, kx=3, ky=ky, s=smoothing * g.size)
        g = spl(ug, mg)
        if method == "spline":
            return g, spl(ug, mg, dx=1), spl(ug, mg, dy=1), spl(ug, mg, dx=1, dy=1)
    if method == "pchip":
        gu = PchipInterpolator(ug, g, axis=0)(ug, 1)
        gm = PchipInterpolator(mg, g, axis=1)(mg, 1)
        gum = PchipInterpolator(mg, gu, axis=1)(mg, 1)
        return g.copy(), gu, gm, gum
    gu = CubicSpline(ug, g, axis=0)(ug, 1)
    gm = CubicSpline(mg, g, axis=1)(mg, 1)
    gum = CubicSpline(mg, gu, axis=1)(mg, 1)
    return g.copy(), gu, gm, gum


def hermite_cells(ug: np.ndarray, mg: np.ndarray, f: np.ndarray, fu: np.ndarray,
                  fm: np.ndarray, fum: np.ndarray) -> np.ndarray:
    """16 power-basis coefficients per cell, shape (nu-1, nm-1, 16), from node data.

    c = H F Hᵀ with H the cubic Hermite matrix and F the 4×4 corner data scaled to the
    unit cell (values, Δu·g_u, Δm·g_m, Δu·Δm·g_um).
    """
    du = np.diff(ug)[:, None]
    dm = np.diff(mg)[None, :]
    F = np.empty((ug.size - 1, mg.size - 1, 4, 4))
    for a in (0, 1):
        for b in (0, 1):
            sl = (slice(a, a + ug.size - 1), slice(b, b + mg.size - 1))
            F[:, :, a, b] = f[sl]
            F[:, :, a, 2 + b] = dm * fm[sl]
            F[:, :, 2 + a, b] = du * fu[sl]
            F[:, :, 2 + a, 2 + b] = du * dm * fum[sl]
    c = np.einsum("ak,xykl,bl->xyab", _HERMITE, F, _HERMITE)
    return np.ascontiguousarray(c.reshape(ug.size - 1, mg.size - 1, 16))


@dataclass(frozen=True, eq=False)
class Interpolant:
    """Arrays the kernels need, plus where they came from.

    ``coef[k]`` (k = TRAIN, TEST): bicubic cells of the transformed losses;
    ``nodes[k]``: train_acc, test_acc node values for bilinear interpolation.
    """

    ug: np.ndarray
    mg: np.ndarray
    coef: np.ndarray
    nodes: np.ndarray
    log_scale: bool
    w0: float
    has_m: bool
    floor: float = 1e-12
    info: dict = field(default_factory=dict)

    @property
    def w_range(self) -> tuple[float, float]:
        return float(np.exp(self.ug[0])), float(np.exp(self.ug[-1]))

    @property
    def m_range(self) -> tuple[float, float]:
        return float(self.mg[0]), float(self.mg[-1])

    def threshold(self, loss_threshold: float) -> float:
        """A loss threshold in the units of g (ln θ with the log transform)."""
        if self.log_scale:
            return float(np.log(max(loss_threshold, self.floor)))
        return float(loss_threshold)

    def evaluate_u(self, u: np.ndarray, m: np.ndarray) -> dict[str, np.ndarray]:
        """Losses with (u, m)-derivatives and accuracies at points (u = ln w, m)."""
        u, m = np.broadcast_arrays(np.asarray(u, float), np.asarray(m, float))
        shape = u.shape
        uu = kernel_array(u.ravel())
        mm = kernel_array(m.ravel())
        out = eval_points(self.ug, self.mg, self.coef, self.nodes, self.log_scale, uu, mm)
        names = ("train_loss", "dtrain_du", "dtrain_dm", "test_loss", "dtest_du", "dtest_dm",
                 "train_acc", "test_acc")
        return {k: out[:, c].reshape(shape) for c, k in enumerate(names)}

    def evaluate(self, w: np.ndarray, m: np.ndarray) -> dict[str, np.ndarray]:
        """As `evaluate_u`, at absolute weight norms w."""
        return self.evaluate_u(np.log(np.asarray(w, float)), m)


def _grid_values(ds: xr.Dataset, name: str, has_m: bool) -> np.ndarray:
    da = ds[name]
    grid = ("w", "m") if has_m else ("w",)
    extra = [d for d in da.dims if d not in grid]
    if extra:
        raise InputError(
            f"landscape variable `{name}` has extra dims {extra}; select one value first, "
            f"e.g. landscape.sel({extra[0]}=...)")
    values = np.asarray(da.transpose(*grid).values, dtype=float)
    return values if has_m else values[:, None]


def _fill_nonfinite(v: np.ndarray, ug: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """Fill NaN/inf (non-converged probe points) by linear interpolation along u, then m."""
    bad = ~np.isfinite(v)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return v, 0
    if n_bad == v.size:
        raise InputError(f"landscape variable `{name}` has no finite value")
    v = v.copy()
    good_cols = []
    for j in range(v.shape[1]):
        ok = np.isfinite(v[:, j])
        if ok.any():
            v[~ok, j] = np.interp(ug[~ok], ug[ok], v[ok, j])
            good_cols.append(j)
    cols = np.arange(v.shape[1])
    for i in range(v.shape[0]):
        v[i, :] = np.interp(cols, good_cols, v[i, good_cols])
    return v, n_bad


def build_interpolant(
    landscape: xr.Dataset,
    *,
    transform: str = "log",
    smoothing: float = 0.0,
    monotone: bool = False,
    derivatives: str = "pchip",
    floor: float = 1e-12,
) -> Interpolant:
    """Build the interpolant of train_loss, test_loss (bicubic) and accuracies (bilinear).

    ``landscape``: Dataset with dim ``w`` (and ``m``), variables `NEEDED_VARS` and attribute
    ``w0``. See the module docstring for ``transform``, ``smoothing`` and ``monotone``.
    """
    if transform not in TRANSFORMS:
        raise bad_value("transform", transform, f"one of {list(TRANSFORMS)}")
    if not (np.isfinite(smoothing) and smoothing >= 0):
        raise bad_value("smoothing", smoothing, "a finite number >= 0")
    if derivatives not in DERIVATIVES:
        raise bad_value("derivatives", derivatives, f"one of {list(DERIVATIVES)}")
    if not (np.isfinite(floor) and floor > 0):
        raise bad_value("floor", floor, "a finite number > 0")
    missing = [v for v in NEEDED_VARS if v not in landscape.data_vars]
    if "w" not in landscape.dims or missing:
        what = f"variables {missing}" if missing else "dimension `w`"
        raise FileCheckError(
            f"landscape lacks {what} needed for predictions; it has dims "
            f"{list(landscape.sizes)} and variables {sorted(map(str, landscape.data_vars))}")
    has_m = "m" in landscape.dims
    w = np.asarray(landscape["w"].values, float)
    if w.size < 4 or np.any(w <= 0) or np.any(np.diff(w) <= 0):
        raise FileCheckError(f"landscape coordinate `w` must be >= 4 increasing values > 0, "
                             f"got {w.tolist()[:8]}")
    ug = np.log(w)
    if has_m:
        mg = np.array(landscape["m"].values, dtype=float)
        if mg.size < 2 or np.any(np.diff(mg) <= 0):
            raise FileCheckError(f"landscape coordinate `m` must be >= 2 increasing values, "
                                 f"got {mg.tolist()[:8]}")
    else:
        mg = np.array([0.0, 1.0])
    w0 = float(landscape.attrs.get("w0", 1.0))

    info: dict = {"transform": transform, "smoothing": smoothing, "monotone": monotone,
                  "derivatives": derivatives, "filled": {}}
    coef = np.empty((2, ug.size - 1, mg.size - 1, 16))
    nodes = np.empty((2, ug.size, mg.size))
    for k, (loss, acc) in enumerate((("train_loss", "train_acc"), ("test_loss", "test_acc"))):
        values = {}
        for name in (loss, acc):
            v = _grid_values(landscape, name, has_m)
            v, n_bad = _fill_nonfinite(v, ug, name)
            if n_bad:
                info["filled"][name] = n_bad
            values[name] = np.repeat(v, mg.size, axis=1) if not has_m else v
        lv = values[loss]
        if monotone and k == TRAIN:
            lv = np.minimum.accumulate(lv, axis=0)
        g = np.log(np.maximum(lv, floor)) if transform == "log" else lv
        coef[k] = hermite_cells(ug, mg, *node_derivatives(ug, mg, g, smoothing, derivatives))
        nodes[k] = np.clip(values[acc], 0.0, 1.0)
    return Interpolant(ug=kernel_array(ug), mg=kernel_array(mg), coef=kernel_array(coef),
                       nodes=kernel_array(nodes),
                       log_scale=transform == "log", w0=w0, has_m=has_m, floor=floor,
                       info=info)


def derivative_agreement(interp: Interpolant, landscape: xr.Dataset,
                         significant: float = 1e-3) -> dict[str, float]:
    """How well the interpolant's gradient matches the probe's envelope derivatives.

    At converged grid nodes compare ∂l/∂w = w⁻¹ ∂l/∂u (interpolant) with ``dtrain_dw`` and
    ∂l/∂m with ``dtrain_dm``. Returns, per derivative ``d`` in (dw, dm): ``corr_d`` (Pearson
    correlation over all converged nodes) and, over the nodes where the stored derivative
    is significant (|b| > significant·max|b|; in flat region II both are ~0 and their ratio
    is noise), ``median_rel_err_d`` (median |a − b|/|b|), ``sign_agree_d`` (fraction with
    the same sign) and ``n_significant_d``; plus ``n_points`` (converged nodes).
    """
    has_m = interp.has_m
    pairs = [("dw", "dtrain_dw")] + ([("dm", "dtrain_dm")] if has_m else [])
    for _, var in pairs:
        if var not in landscape.data_vars:
            raise FileCheckError(f"landscape lacks variable `{var}` for the derivative check; "
                                 f"it has {sorted(map(str, landscape.data_vars))}")
    if "converged" in landscape.data_vars:
        conv = _grid_values(landscape, "converged", has_m).astype(bool)
    else:
        conv = np.ones((interp.ug.size, 1 if not has_m else interp.mg.size), bool)
    uu, mm = np.meshgrid(interp.ug, interp.mg if has_m else [0.0], indexing="ij")
    ev = interp.evaluate_u(uu, mm)
    ours = {"dw": ev["dtrain_du"] / np.exp(uu), "dm": ev["dtrain_dm"]}
    nan = float("nan")
    result: dict[str, float] = {"n_points": int(conv.sum())}
    for key, var in pairs:
        ref = _grid_values(landscape, var, has_m)
        ok = conv & np.isfinite(ref)
        a, b = ours[key][ok], ref[ok]
        result[f"corr_{key}"] = (float(np.corrcoef(a, b)[0, 1])
                                 if a.size > 1 and a.std() > 0 and b.std() > 0 else nan)
        big = np.abs(b) > significant * (np.abs(b).max() if b.size else 1.0)
        a, b = a[big], b[big]
        result[f"n_significant_{key}"] = int(big.sum())
        result[f"median_rel_err_{key}"] = (float(np.median(np.abs(a - b) / np.abs(b)))
                                           if b.size else nan)
        result[f"sign_agree_{key}"] = float(np.mean(np.sign(a) == np.sign(b))) if b.size \
            else nan
    return result
