"""Figures of landscape files (matplotlib is imported here, lazily, with the Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_landscape(ds: xr.Dataset, output: str | Path, *, boundary: float = 0.05,
                   n_train: int | None = None) -> Path:
    """Heatmaps of reduced train and test loss over (log10 alpha, m), like Fig. 6a,b.

    The dashed line is the contour ``train_loss = boundary`` (regions I / II); hatched
    cells are points whose minimisation did not converge. Other grids: a (w, n_train)
    landscape gets `plot_n_train` (Fig. 3a,b), a 1-D one `plot_curves`; ``n_train``
    selects one N first (a grid value); a (w, m, n_train) one without it shows the
    largest N.
    """
    from reduced_dynamics.engine.parameters import n_train_values, select_n_train
    from reduced_dynamics.plot.predictions import _save

    values = n_train_values(ds)
    if values and (n_train is not None or "m" in ds.dims):
        ds = select_n_train(ds, max(values) if n_train is None else n_train,
                            name="--n-train")
    elif n_train is not None:
        select_n_train(ds, n_train, name="--n-train")  # raises: no n_train axis
    if "n_train" in ds.dims:
        return _save(plot_n_train(ds, boundary=boundary), output)
    if "m" not in ds.dims:
        return _save(plot_curves(ds, boundary=boundary), output)
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    alpha = ds["alpha"].values
    m = ds["m"].values
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, var, title in zip(axes, ("train_loss", "test_loss"),
                              (r"reduced train loss $\tilde l_{train}$",
                               r"reduced test loss $\tilde l_{test}$")):
        z = ds[var].transpose("m", "w").values
        z = np.clip(z, 1e-6, None)
        mesh = ax.pcolormesh(alpha, m, z, norm=LogNorm(vmin=max(np.nanmin(z), 1e-5),
                                                       vmax=np.nanmax(z)),
                             shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax)
        ax.contour(alpha, m, ds["train_loss"].transpose("m", "w").values, levels=[boundary],
                   colors="yellow", linestyles="--")
        unconv = ~ds["converged"].transpose("m", "w").values
        if unconv.any():
            ax.contourf(alpha, m, unconv.astype(float), levels=[0.5, 1.5], hatches=["//"],
                        colors="none")
        ax.set_xscale("log")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel("m (messiness)")
        ax.set_title(title)
    ax = axes[2]
    for j in np.unique(np.linspace(0, len(m) - 1, 4).round().astype(int)):
        line = ax.loglog(alpha, ds["train_loss"].isel(m=j).values, "-", lw=1.5)[0]
        ax.loglog(alpha, ds["test_loss"].isel(m=j).values, "--", color=line.get_color(),
                  label=f"m={m[j]:.3g}")
    ax.set_xlabel(r"$\alpha$")
    ax.set_title("train (solid, L) and test (dashed, U)")
    ax.legend(fontsize=8)
    n_text = (f"n_train = {int(ds['n_train'])} of {values}; " if "n_train" in ds.coords
              else "")
    fig.suptitle(f"{ds.attrs.get('task')} ({ds.attrs.get('preset')}); {n_text}dashed "
                 f"yellow: train loss = {boundary}; hatched: not converged", fontsize=10)
    fig.tight_layout()
    fig.savefig(output, dpi=130)
    plt.close(fig)
    return Path(output)


def _title(ds: xr.Dataset) -> str:
    n_text = f", n_train = {int(ds['n_train'])}" if "n_train" in ds.coords and \
        ds["n_train"].ndim == 0 else ""
    return f"{ds.attrs.get('task')} ({ds.attrs.get('preset')}){n_text}"


def plot_curves(ds: xr.Dataset, *, ax=None, boundary: float = 0.05):
    """A landscape without m (1-D in w, e.g. teacher-student or one N of a (w, n_train)
    landscape): reduced train (L) and test (U) loss against alpha, log-log; crosses mark
    unconverged points. Returns the Figure (``ax``: draw into these axes)."""
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(5.5, 4), layout="constrained").subplots()
    alpha = ds["alpha"].values
    for var, style, label in (("train_loss", "o-", "train (L)"), ("test_loss", "s-",
                                                                  "test (U)")):
        y = ds[var].values
        line = ax.loglog(alpha, y, style, ms=3, label=label)[0]
        bad = ~ds["converged"].values
        if bad.any():
            ax.loglog(alpha[bad], y[bad], "x", color=line.get_color(), ms=7)
    ax.axhline(boundary, color="grey", ls="--", lw=0.8, label=f"train loss = {boundary:g}")
    ax.set_xlabel(r"$\alpha = w / w_0$")
    ax.set_ylabel("reduced loss")
    ax.set_title(_title(ds) + ("; x: not converged" if (~ds["converged"].values).any()
                               else ""), fontsize=9)
    ax.legend(fontsize=8)
    return ax.figure


def _log_edges(x: np.ndarray) -> np.ndarray:
    """Cell edges of positive, increasing centres ``x`` at geometric midpoints."""
    lx = np.log(np.asarray(x, float))
    if lx.size == 1:
        return np.exp(np.array([lx[0] - 0.5, lx[0] + 0.5]))
    mid = 0.5 * (lx[1:] + lx[:-1])
    return np.exp(np.concatenate([[2 * lx[0] - mid[0]], mid, [2 * lx[-1] - mid[-1]]]))


def plot_n_train(ds: xr.Dataset, *, fig=None, boundary: float = 0.05,
                 threshold: float | None = None):
    """A (w, n_train) landscape like Fig. 3a,b: heatmaps over (alpha, N), both log-scaled,
    of (a) the reduced train loss with the contour ``train_loss = boundary``, (b) the test
    loss, (c) the test error 1 − test_acc with the contour test_acc = ``threshold`` (the
    file's grokking threshold by default) and the critical data size N_c (dashed).
    Hatched: not converged. Returns the Figure (``fig``: draw into this one)."""
    from matplotlib.colors import LogNorm, Normalize

    from reduced_dynamics.engine.parameters import critical_n_train

    if fig is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(15.5, 4.4), layout="constrained")
    crit = critical_n_train(ds, threshold, on="acc")
    alpha, n = ds["alpha"].values, ds["n_train"].values.astype(float)
    xe, ye = _log_edges(alpha), _log_edges(n)
    unconv = ~ds["converged"].transpose("n_train", "w").values
    axes = fig.subplots(1, 3)
    panels = (("train_loss", "(a) reduced train loss"), ("test_loss", "(b) reduced test loss"),
              ("test_err", f"(c) test error 1 - acc; white: acc = {crit.threshold:g}"))
    for ax, (var, title) in zip(axes, panels):
        if var == "test_err":
            z = 1.0 - ds["test_acc"].transpose("n_train", "w").values
            norm = Normalize(0.0, 1.0)
        else:
            z = ds[var].transpose("n_train", "w").values
            finite = z[np.isfinite(z) & (z > 0)]
            lo = max(float(finite.min()), 1e-8) if finite.size else 1e-8
            hi = max(float(finite.max()), lo * 10) if finite.size else 1.0
            z = np.clip(z, lo, None)
            norm = LogNorm(vmin=lo, vmax=hi)
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z), norm=norm, cmap="viridis",
                             shading="flat")
        fig.colorbar(mesh, ax=ax)
        if var == "train_loss":
            ax.contour(alpha, n, z, levels=[boundary], colors="yellow", linestyles="--")
        if var == "test_err":
            acc = ds["test_acc"].transpose("n_train", "w").values
            if np.nanmin(acc) < crit.threshold <= np.nanmax(acc):
                ax.contour(alpha, n, acc, levels=[crit.threshold], colors="white")
            if crit.n_train is not None:
                ax.axhline(crit.n_train, color="red", ls="--", lw=1.2,
                           label=f"N_c = {crit.n_train}")
                ax.legend(fontsize=8, loc="upper right")
        if unconv.any():
            ax.contourf(alpha, n, unconv.astype(float), levels=[0.5, 1.5], hatches=["//"],
                        colors="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel("training-set size N")
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{_title(ds)}; dashed yellow: train loss = {boundary:g}; "
                 f"{crit.describe()}", fontsize=9)
    return fig


def plot_validation(report: xr.Dataset, landscape: xr.Dataset, folder: str | Path
                    ) -> list[Path]:
    """t_grok vs gamma (measured points, predicted line) and paths over the landscape."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    folder = Path(folder)
    gamma = report["gamma"].values
    order = np.argsort(gamma, kind="stable")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    a = report.attrs
    ax.loglog(gamma, report["t_grok_measured"].values, "o", color="C0",
              label=f"measured t_grok (exponent {a['exponent_measured']:.2f} ± "
                    f"{a['exponent_measured_stderr']:.2f})")
    ax.loglog(gamma[order], report["t_grok_predicted"].values[order], "-", color="C1",
              label=f"predicted t_grok (exponent {a['exponent_predicted']:.2f})")
    ax.loglog(gamma, report["t_overfit_measured"].values, "x", color="C2",
              label="measured t_overfit")
    ax.loglog(gamma[order], report["t_overfit_predicted"].values[order], ":", color="C2",
              label="predicted t_overfit (gradient flow)")
    ax.set_xlabel(r"weight decay $\gamma$")
    ax.set_ylabel("steps")
    ax.legend(fontsize=7)
    ax.set_title("grokking time vs weight decay")
    fig.tight_layout()
    first = folder / "t_grok_vs_gamma.png"
    fig.savefig(first, dpi=130)
    plt.close(fig)

    if "m" not in landscape.dims:  # 1-D landscape (teacher-student): alpha over time
        return [first, _paths_1d(report, float(landscape.attrs["w0"]), folder / "paths.png")]
    w0 = float(landscape.attrs["w0"])
    alpha = landscape["alpha"].values
    m = landscape["m"].values
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, var in zip(axes, ("train_loss", "test_loss")):
        z = np.clip(landscape[var].transpose("m", "w").values, 1e-6, None)
        mesh = ax.pcolormesh(alpha, m, z, norm=LogNorm(vmin=max(np.nanmin(z), 1e-5),
                                                       vmax=np.nanmax(z)),
                             shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=var)
        for r in range(report.sizes["run"]):
            color = plt.cm.autumn(r / max(report.sizes["run"] - 1, 1))
            x = report.isel(run=r)
            label = f"γ={float(x['gamma']):.3g} s{int(x['seed'])}"
            ax.plot(x["w_measured"].values / w0, x["m_measured"].values, "-", color=color,
                    lw=1.3, label=label + " measured")
            ax.plot(x["w_predicted"].values / w0, x["m_predicted"].values, "--", color=color,
                    lw=1.3)
            ax.plot(float(x["alpha0"]), float(x["m0"]), "s", color=color, ms=5)
        ax.set_xscale("log")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_title(f"{var}: measured (solid) vs predicted (dashed) paths")
    axes[0].set_ylabel("m (least-squares coordinate for the runs)")
    axes[0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    second = folder / "paths.png"
    fig.savefig(second, dpi=130)
    plt.close(fig)
    return [first, second]


def _paths_1d(report: xr.Dataset, w0: float, path: Path) -> Path:
    """alpha(t) of each run, measured (solid) vs predicted (dashed), for a 1-D landscape."""
    plt = _pyplot()
    step = report["step"].values
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r in range(report.sizes["run"]):
        color = plt.cm.viridis(r / max(report.sizes["run"] - 1, 1))
        x = report.isel(run=r)
        ax.loglog(step[1:], x["w_measured"].values[1:] / w0, "-", color=color, lw=1.3,
                  label=f"γ={float(x['gamma']):.3g} s{int(x['seed'])}")
        ax.loglog(step[1:], x["w_predicted"].values[1:] / w0, "--", color=color, lw=1.3)
        t_grok = float(x["t_grok_measured"])
        if np.isfinite(t_grok):
            ax.plot(t_grok, np.interp(t_grok, step, x["w_measured"].values) / w0, "o",
                    color=color, ms=4)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\alpha = w / w_0$")
    ax.set_title("measured (solid) vs predicted (dashed) norm; dots: measured t_grok",
                 fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)
