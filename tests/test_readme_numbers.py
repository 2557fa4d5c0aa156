"""Numbers the README quotes from committed files, read back from those files: each regex
finds the quoted value in the README, and the file must give it to the printed digits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from reduced_dynamics.engine.thresholds import grok_threshold_of, grok_times
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories

ROOT = Path(__file__).resolve().parent.parent
README = " ".join((ROOT / "README.md").read_text().split())  # line breaks as spaces


def quoted(pattern: str) -> tuple[float, ...]:
    """The numbers the README gives where ``pattern`` (with groups) matches, once."""
    found = re.findall(pattern, README)
    assert len(found) == 1, (pattern, found)
    groups = found[0] if isinstance(found[0], tuple) else (found[0],)
    return tuple(float(g.replace(" ", "").replace("·10⁻", "e-").replace("⁻", "-")) for g in
                 groups)


def close(printed: float, value: float) -> bool:
    """``value`` rounds to ``printed`` at the significant digits ``printed`` shows."""
    mant = f"{printed:.6g}".split("e")[0].replace(".", "").lstrip("0-").rstrip("0")
    digits = max(len(mant), 2)  # "0.080" prints as 0.08: at least 2 digits were shown
    return float(f"{value:.{digits}g}") == float(f"{printed:.{digits}g}")


def _sup(text: str) -> float:
    """'2.2·10⁻⁶' -> 2.2e-6."""
    digits = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
    mant, _, exp = text.partition("·10⁻")
    return float(mant) * 10.0 ** -int(exp.translate(digits)) if exp else float(mant)


def test_toy_landscape_messy_minimum_and_far_right():
    ds = open_landscape(ROOT / "landscapes" / "toy_addition_paper.nc")
    tl = ds["train_loss"]
    best = tl.sel(m=tl["m"][tl["m"] >= 0.12]).min("w").values
    lo, hi = quoted(r"its minimum over α is ([\d.]+)–([\d.]+), at α")
    assert close(lo, best.min()) and close(hi, best.max())
    lo, hi = quoted(r"to ([\d ]+)–([\d ]+) at α = 100,")
    far = tl.isel(w=-1).values
    assert round(far.min()) == lo and round(far.max()) == hi


def test_fashion_small_n_floor():
    ds = open_landscape(ROOT / "landscapes" / "fashion_mse.nc")
    small = ds["train_loss"].sel(n_train=ds["n_train"][ds["n_train"] <= 261]).max("n_train")
    text = re.search(r"at N ≤ 261 at most (.*?)\)\.", README).group(1)
    pairs = re.findall(r"([\d.]+·10⁻[⁰¹²³⁴⁵⁶⁷⁸⁹]+) at (?:α = )?([\d.]+)", text)
    assert len(pairs) == 5
    for value, alpha in pairs:
        i = int(np.argmin(np.abs(ds["alpha"].values - float(alpha))))
        assert abs(ds["alpha"].values[i] - float(alpha)) < 0.06 * float(alpha)
        assert close(_sup(value), float(small.values[i])), (alpha, value, small.values[i])


def test_digits_large_n_accuracy():
    ds = open_landscape(ROOT / "landscapes" / "digits_mse.nc")
    acc = ds["test_acc"].sel(n_train=1500)
    alpha = ds["alpha"].values
    lo, hi, a_lo, a_hi, at3 = quoted(r"reduced test accuracy is ([\d.]+)–([\d.]+) for α = "
                                     r"([\d.]+)–([\d.]+) and ([\d.]+) at α = 3")
    inside = acc.values[(alpha >= a_lo - 0.01) & (alpha <= a_hi + 0.01)]
    assert round(inside.min(), 2) == lo and round(inside.max(), 2) == hi
    assert round(float(acc.values[np.argmin(np.abs(alpha - 3))]), 3) == at3


def test_digits_cross_entropy_grokking_step():
    ds = open_trajectories(ROOT / "docs" / "data" / "digits_ce.nc")
    value, on, _ = grok_threshold_of(ds)
    t = grok_times(ds["step"].values, ds["test_acc"].values, ds["test_loss"].values, value, on)
    (step,) = quoted(r"reaches test accuracy 0.9 at ([\d ]+) \(final")
    assert step == float(np.nanmax(t))


def test_modular_fraction_runs_peak_norm():
    ds = open_trajectories(ROOT / "docs" / "data" / "modular_fraction_runs.nc")
    peak = np.nanmax(ds["w"].values, axis=1) / float(ds.attrs["w0"])
    lo, hi = quoted(r"every run peaks at α = ([\d.]+)–([\d.]+)")
    assert round(peak.min(), 2) == lo and round(peak.max(), 2) == hi


@pytest.mark.parametrize("name", ["toy_addition_paper.nc"])
def test_readme_predict_table_is_the_commands_output(name, capsys):
    """The README's first table is what `reduced-dynamics predict` prints now."""
    from reduced_dynamics.cli.main import main

    assert main(["predict"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [ln for ln in out if re.match(r"\s+[\d.]+\s+[\d.]+", ln)]
    text = (ROOT / "README.md").read_text()
    assert rows and all(row in text for row in rows)


def test_liu2022_measured_phase_counts_and_the_runs_norms():
    """The README's measured liu2022 diagram and its two reasons the reduction fails, from
    the committed runs."""
    from reduced_dynamics.names import Phase
    from reduced_dynamics.phases import measured_phases

    path = ROOT / "docs" / "data" / "liu2022_phase_runs.nc"
    meas = measured_phases(path)
    counts = quoted(r"(\d+) comprehension, (\d+) grokking, (\d+) memorisation, (\d+) "
                    r"confusion\. As in Liu et al\. 2022")
    assert counts == tuple(float((meas["phase"].values == p).sum()) for p in Phase)
    runs = open_trajectories(path)
    w = runs["w"].values
    alpha_t = w[:, -1] / w[:, 0]
    decayed = runs["gamma"].values >= 1
    n_up, n_decayed, top = quoted(r"α\(T\) > 1 in (\d+) of the (\d+) runs with γ ≥ 1 "
                                  r"\(up to ([\d.]+) at")
    assert (n_up, n_decayed) == ((alpha_t[decayed] > 1).sum(), decayed.sum())
    assert close(top, alpha_t.max())
    resid = runs["residual"].values[:, -1]
    (median,) = quoted(r"residual \|R − R\(m̂\)\|/\|Δ\| has median (\d+)")
    assert round(float(np.median(resid))) == median
