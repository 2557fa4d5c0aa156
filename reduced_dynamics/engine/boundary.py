"""The boundary contour l̃_train = θ of one (w, m) slice, the generalising region, and
whether the boundary branch that a path slides along reaches it (Fig. 6e, SPEC §14).

Everything is on the (u = ln w, m) plane with the engine's interpolant (`interpolant`:
bicubic in ln l̃, bilinear accuracies), evaluated on an ``n_grid`` × ``n_grid`` grid that
spans the landscape's grid; the level lines come from contourpy (matplotlib's contour
generator), each an (n, 2) array of (u, m) points, closed loops repeating their first point.

- **Contour** C_θ = {l̃_train = θ}: the level lines of ln l̃_train at ln θ.
- **Generalising region** G = {test_acc ≥ a*} (``grok_on="acc"``) or {l̃_test ≤ θ_test}
  (``"loss"``): the rule of the grok event; ``region`` holds its edge lines.
- **Star** (the generalising solution, Fig. 6b's green star): the grid point of G with the
  lowest l̃_test. NaN when G is empty on the grid.
- **Anchor** D' (`anchor_point`): where the C → D leg meets the contour. In region II the
  weight-decay drift moves a path along −u at constant m, so D' is the first point of C_θ
  moving down in u from C = (u_C, m_C) (the D' of `path_analysis.closed_and_geometric`).
- **Slide** (D → E): on the contour, Eq. 6's velocity is tangent to it (quasi-static
  contact). With t = (−∂_m l̃, ∂_u l̃) the tangent, v = λ t and dm/dt = −η_R ∂_m l̃ give
  λ = −η_R ∂_m l̃ / ∂_u l̃, hence du/dt = η_R (∂_m l̃)² / ∂_u l̃ ≤ 0 where ∂_u l̃ < 0 (the
  L's wall): the path follows the contour in the direction of decreasing u, whatever the
  sign of ∂_m l̃, and stops where u has a local minimum along it (∂_m l̃ = 0, the
  contour parallel to m: a stationary point) or where the contour meets the grid's edge
  (m = m_min or m_max: Eq. 6 zeroes the m velocity there and the path stops on the edge;
  w = w_min: it leaves the grid). `slide` walks the contour line nearest the anchor that
  way; a rise of u by more than ``tol`` above its running minimum is the stationary point.
- **Connects**: some point of the slide lies in G; ``connect`` is the first one (refined by
  bisection on its segment). Where it does not, the path cannot reach the generalising
  region along the boundary, however long it runs (the paper's N = 25, 35).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from contourpy import LineType, contour_generator

from reduced_dynamics.engine.interpolant import Interpolant
from reduced_dynamics.engine.path_analysis import contour_u
from reduced_dynamics.errors import bad_value
from reduced_dynamics.names import SLIDE_ENDS

_BISECT = 40  # bisection steps for the first point of the slide inside G


@dataclass(frozen=True, eq=False)
class BoundaryAnalysis:
    """What `boundary_analysis` finds on one slice; points are (u = ln w, m), NaN where
    undefined. ``contour``, ``region``: level lines ((n, 2) arrays); ``slide``: the points
    from the anchor to the end of the slide; ``slide_end`` one of `names.SLIDE_ENDS`;
    ``best``: the largest test accuracy (``on="acc"``) or lowest test loss on the grid;
    ``region_fraction``: the share of grid points in G."""

    contour: tuple[np.ndarray, ...]
    region: tuple[np.ndarray, ...]
    region_fraction: float
    best: float
    star: tuple[float, float]
    star_test_loss: float
    star_test_acc: float
    anchor: tuple[float, float]
    slide: np.ndarray
    slide_end: str
    connects: bool
    connect: tuple[float, float]


def level_lines(x: np.ndarray, y: np.ndarray, z: np.ndarray, level: float
                ) -> tuple[np.ndarray, ...]:
    """The level lines z = ``level`` of ``z`` (shape (len(y), len(x))) as (n, 2) arrays of
    (x, y); contourpy's serial algorithm, closed loops repeating their first point."""
    gen = contour_generator(x=x, y=y, z=z, line_type=LineType.Separate)
    return tuple(np.asarray(line, float) for line in gen.lines(level) if len(line) >= 2)


def anchor_point(interp: Interpolant, theta: float, m: float, u_from: float | None = None
                 ) -> tuple[float, float]:
    """D' = (u, m): the first point of the contour l̃_train = θ moving down in u along the
    line m from ``u_from`` (C; the top of the grid when None). NaN when the line meets no
    contour below it, or when l̃_train ≥ θ already at ``u_from`` (not in region II: there
    is no C → D leg)."""
    top = float(interp.ug[-1])
    start = top if u_from is None or not np.isfinite(u_from) else min(float(u_from), top)
    u = contour_u(interp, m, start, theta)
    if not np.isfinite(u) or u >= start:
        return float("nan"), float("nan")
    return u, float(m)


def _nearest(lines: tuple[np.ndarray, ...], p: np.ndarray, scale: np.ndarray
             ) -> tuple[int, int, float]:
    """(line, segment k, fraction s) of the point of ``lines`` nearest ``p`` (distances in
    units of ``scale`` per axis)."""
    best = (np.inf, 0, 0, 0.0)
    for i, line in enumerate(lines):
        a, b = line[:-1] / scale, line[1:] / scale
        q = p / scale
        d = b - a
        dd = np.maximum((d * d).sum(axis=1), 1e-300)
        s = np.clip(((q - a) * d).sum(axis=1) / dd, 0.0, 1.0)
        dist = np.hypot(*(a + s[:, None] * d - q).T)
        k = int(np.argmin(dist))
        if dist[k] < best[0]:
            best = (float(dist[k]), i, k, float(s[k]))
    return best[1], best[2], best[3]


def _directions(line: np.ndarray, k: int, s: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """The two walks along ``line`` from the point at fraction ``s`` of segment k: towards
    its end and towards its start (a closed loop: once round either way)."""
    p = line[k] + s * (line[k + 1] - line[k])
    closed = len(line) > 3 and np.allclose(line[0], line[-1])
    if closed:
        ring = line[:-1]
        n = len(ring)
        fwd = ring[[(k + 1 + j) % n for j in range(n)]]
        bwd = ring[[(k - j) % n for j in range(n)]]
    else:
        fwd, bwd = line[k + 1:], line[k::-1]
    return np.vstack([p, fwd]), np.vstack([p, bwd]), closed


def _first_move(walk: np.ndarray, eps: float) -> float:
    """The first change of u along ``walk`` larger than ``eps`` (0 if none)."""
    du = walk[1:, 0] - walk[0, 0]
    big = np.flatnonzero(np.abs(du) > eps)
    return float(du[big[0]]) if big.size else 0.0


def _edge(point: np.ndarray, interp: Interpolant) -> str:
    """Which edge of the grid an open contour line ends on (`names.SLIDE_ENDS`)."""
    u, m = point
    ug, mg = interp.ug, interp.mg
    tu = 1e-6 * (ug[-1] - ug[0])
    tm = 1e-6 * (mg[-1] - mg[0])
    for name, hit in (("w_min_edge", u <= ug[0] + tu), ("m_min_edge", m <= mg[0] + tm),
                      ("m_max_edge", m >= mg[-1] - tm), ("w_max_edge", u >= ug[-1] - tu)):
        if hit:
            return name
    return "stationary"


def slide(lines: tuple[np.ndarray, ...], anchor: tuple[float, float], interp: Interpolant,
          tol: float) -> tuple[np.ndarray, str]:
    """(points, end) of the slide from ``anchor`` along the nearest contour line in the
    direction of decreasing u (module docstring); ``tol``: the rise of u above its running
    minimum that marks a stationary point. No lines or a NaN anchor: (empty, "no_contact")."""
    if not lines or not np.all(np.isfinite(anchor)):
        return np.empty((0, 2)), "no_contact"
    scale = np.array([interp.ug[-1] - interp.ug[0], interp.mg[-1] - interp.mg[0]])
    i, k, s = _nearest(lines, np.asarray(anchor, float), scale)
    fwd, bwd, closed = _directions(lines[i], k, s)
    eps = 1e-9 * scale[0]
    moves = (_first_move(fwd, eps), _first_move(bwd, eps))
    if min(moves) >= 0:  # u rises both ways: the anchor is the stationary point
        return fwd[:1], "stationary"
    if max(moves) < 0:  # u falls both ways (a bulge): m moves downhill, dm/dt = -eta_R dl/dm
        grad_m = interp.evaluate_u(np.array([anchor[0]]), np.array([anchor[1]]))["dtrain_dm"][0]
        down = [float(w[min(1, len(w) - 1), 1] - w[0, 1]) * grad_m < 0 for w in (fwd, bwd)]
        moves = (-1.0, 0.0) if down[0] or not down[1] else (0.0, -1.0)
    walk = fwd if moves[0] <= moves[1] else bwd
    u = walk[:, 0]
    low = np.minimum.accumulate(u)
    above = np.flatnonzero(u > low + tol)
    if above.size:
        stop = int(np.argmin(u[: above[0]]))
        return walk[: stop + 1], "stationary"
    return walk, ("closed_loop" if closed else _edge(walk[-1], interp))


def chord_angle(walk: np.ndarray) -> float:
    """θ of the slide's chord, atan2(m_D' − m_end, u_D' − u_end) (radians; the contour's
    slope as Section 5.1 measures it, from the −u direction); NaN for a slide without
    extent in u."""
    if len(walk) < 2 or not walk[0, 0] - walk[-1, 0] > 0:
        return float("nan")
    return float(np.arctan2(walk[0, 1] - walk[-1, 1], walk[0, 0] - walk[-1, 0]))


def _inside(interp: Interpolant, u: np.ndarray, m: np.ndarray, grok_on: str,
            threshold: float) -> np.ndarray:
    ev = interp.evaluate_u(u, m)
    return ev["test_acc"] >= threshold if grok_on == "acc" else ev["test_loss"] <= threshold


def _connection(interp: Interpolant, walk: np.ndarray, grok_on: str, threshold: float
                ) -> tuple[bool, tuple[float, float]]:
    """Whether the slide enters G, and its first point there (bisection on the segment)."""
    nan = (float("nan"), float("nan"))
    if len(walk) == 0:
        return False, nan
    inside = _inside(interp, walk[:, 0], walk[:, 1], grok_on, threshold)
    hit = np.flatnonzero(inside)
    if hit.size == 0:
        return False, nan
    j = int(hit[0])
    if j == 0:
        return True, (float(walk[0, 0]), float(walk[0, 1]))
    a, b = walk[j - 1].copy(), walk[j].copy()
    for _ in range(_BISECT):
        mid = 0.5 * (a + b)
        if _inside(interp, mid[:1], mid[1:], grok_on, threshold)[0]:
            b = mid
        else:
            a = mid
    return True, (float(b[0]), float(b[1]))


def boundary_analysis(interp: Interpolant, theta: float, anchor: tuple[float, float], *,
                      grok_on: str = "acc", threshold: float = 0.95, n_grid: int = 201
                      ) -> BoundaryAnalysis:
    """The contour l̃_train = ``theta``, the region G of the rule (``grok_on``,
    ``threshold``), its star, and the slide from ``anchor`` (`anchor_point`) with its
    connection to G, on one slice (module docstring)."""
    if not interp.has_m:
        raise bad_value("interp", "a landscape without m", "the interpolant of a (w, m) "
                        "slice: the boundary slide needs the m axis")
    if grok_on not in ("acc", "loss"):
        raise bad_value("grok_on", grok_on, "'acc' or 'loss'")
    u = np.linspace(interp.ug[0], interp.ug[-1], n_grid)
    m = np.linspace(interp.mg[0], interp.mg[-1], n_grid)
    uu, mm = np.meshgrid(u, m, indexing="xy")  # (m, u), as contourpy takes z
    ev = interp.evaluate_u(uu, mm)
    contour = level_lines(u, m, np.log(ev["train_loss"]), float(np.log(theta)))
    if grok_on == "acc":
        score, inside = ev["test_acc"], ev["test_acc"] >= threshold
        region = level_lines(u, m, score, threshold)
        best = float(score.max())
    else:
        score, inside = ev["test_loss"], ev["test_loss"] <= threshold
        region = level_lines(u, m, np.log(score), float(np.log(threshold)))
        best = float(score.min())
    nan = float("nan")
    star, star_loss, star_acc = (nan, nan), nan, nan
    if inside.any():
        flat = np.where(inside, ev["test_loss"], np.inf)
        j, i = np.unravel_index(int(np.argmin(flat)), flat.shape)
        star = (float(u[i]), float(m[j]))
        star_loss, star_acc = float(ev["test_loss"][j, i]), float(ev["test_acc"][j, i])
    tol = 0.5 * (u[1] - u[0])
    walk, end = slide(contour, anchor, interp, tol)
    if end not in SLIDE_ENDS:  # pragma: no cover - the names are the module's own
        raise AssertionError(end)
    connects, point = _connection(interp, walk, grok_on, threshold)
    return BoundaryAnalysis(contour=contour, region=region,
                            region_fraction=float(inside.mean()), best=best, star=star,
                            star_test_loss=star_loss, star_test_acc=star_acc,
                            anchor=(float(anchor[0]), float(anchor[1])), slide=walk,
                            slide_end=end, connects=connects, connect=point)
