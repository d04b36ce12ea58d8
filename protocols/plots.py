"""Figures of the protocol experiments (matplotlib, Agg; each returns the Figure)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_window", "plot_score", "plot_song", "plot_clopath_frequency", "plot_clopath_clamp",
           "plot_gb_curve", "plot_gb_frequency", "plot_cells", "save_figure"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> None:
    """Write ``fig`` atomically (temp name + ``os.replace``) and close it."""
    from brainlearn.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    _plt().close(fig)


def plot_window(result, title: str = "STDP window (Bi & Poo 1998 protocol)"):
    """The model window and its exponential fit (``WindowResult``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    frame, p = result.frame, result.params
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.plot(frame["dt_ms"], frame["dw"], "o", ms=4, label="model, 60 pairs at 1 Hz")
    x = np.linspace(0, frame["dt_ms"].max(), 200)
    if np.isfinite(p["A_plus"]):
        ax.plot(x, p["A_plus"] * np.exp(-x / p["tau_plus_ms"]), "C3",
                label=f"fit: A+={p['A_plus']:.3g}, tau+={p['tau_plus_ms']:.1f} ms")
    if np.isfinite(p["A_minus"]):
        ax.plot(-x[1:], -p["A_minus"] * np.exp(-x[1:] / p["tau_minus_ms"]), "C2",
                label=f"fit: A-={p['A_minus']:.3g}, tau-={p['tau_minus_ms']:.1f} ms")
    ax.set_xlabel("dt = t_post - t_pre (ms)")
    ax.set_ylabel("dw (fractional)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_score(score, title: str | None = None):
    """Model over data with SEM bars for a ``Score`` (frequency plots for pairing data)."""
    plt = _plt()
    pts = score.points
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.axhline(0, color="0.7", lw=0.8)
    groups = list(pts.groupby(["protocol", "dt_ms"], dropna=False, sort=False))
    for k, ((protocol, dt), g) in enumerate(groups):
        x = g["n_post"] if protocol == "n_post_spikes" else g["rho_hz"]
        label = f"{protocol}" + (f" dt={dt:+g} ms" if np.isfinite(dt) else "")
        order = np.argsort(x.to_numpy())
        xs = x.to_numpy()[order]
        ax.errorbar(xs, g["dw_exp"].to_numpy()[order], yerr=g["sem"].to_numpy()[order], fmt="o",
                    color=f"C{k}", capsize=3, label=f"data {label}")
        ax.plot(xs, g["dw_model"].to_numpy()[order], "-", color=f"C{k}", lw=2, alpha=0.7,
                label=f"model {label}")
    xlabel = "post spikes in burst / frequency (Hz)" if "n_post_spikes" in set(pts["protocol"]) else "frequency (Hz)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("dw (fractional)")
    ax.set_title(title or f"{score.dataset}: E = {score.E:.2f}")
    ax.legend(fontsize=7)
    return fig


def plot_song(results, title: str = "Song, Miller & Abbott 2000: final weights"):
    """Weight histograms of ``SongResult`` objects, one panel per ratio."""
    plt = _plt()
    results = list(results)
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.2), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        ax.hist(r.weights, bins=40, range=(0, 1), color="C0")
        ax.set_title(f"A-/A+ = {r.ratio:g}: {r.output_rate_hz:.1f} Hz out", fontsize=9)
        ax.set_xlabel("w / g_max")
    axes[0][0].set_ylabel("synapses")
    fig.suptitle(title, fontsize=10)
    return fig


def plot_clopath_frequency(frame, data=None, title: str = "Clopath et al. 2010 Fig. 2b: pairing frequency"):
    """Normalised weight against pairing frequency (``clopath_frequency`` frame); ``data``: a
    Sjostrom dataset (``load_dataset``) drawn as ``100 (1 + dw)`` with SEM bars."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.axhline(100, color="0.7", lw=0.8)
    for k, (dt, g) in enumerate(frame.groupby("dt_ms", sort=False)):
        g = g.sort_values("rho_hz")
        label = "pre-post" if dt > 0 else "post-pre"
        ax.plot(g["rho_hz"], g["normalised"], "-o", color=f"C{k}", lw=2, label=f"model {label} ({dt:+g} ms)")
        if data is not None:
            d = data[(data["protocol"] == "pairing_freq") & (data["dt_ms"] == dt)].sort_values("rho_hz")
            ax.errorbar(d["rho_hz"], 100 * (1 + d["dw_mean"]), yerr=100 * d["dw_sem"], fmt="s", mfc="none",
                        color=f"C{k}", capsize=3, label=f"Sjostrom 2001 {label}")
    ax.set_xlabel("pairing frequency rho (Hz)")
    ax.set_ylabel("normalised weight (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return fig


def plot_clopath_clamp(frame, title: str = "Clopath et al. 2010: voltage clamp"):
    """Weight change against the clamped potential (``clopath_clamp`` frame)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.axhline(0, color="0.7", lw=0.8)
    ax.plot(frame["v_mV"], 100 * frame["dw"], "-o", ms=3)
    ax.set_xlabel("clamped postsynaptic potential (mV)")
    ax.set_ylabel("weight change (%)")
    ax.set_title(title, fontsize=10)
    return fig


def plot_gb_curve(frame, title: str = "Graupner & Brunel 2012 (DP): 60 pairs at 1 Hz"):
    """Strength ratio against dt (``gb_stdp_curve`` frame) with the transition probabilities."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True, height_ratios=[2, 1])
    ax.axhline(1, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.plot(frame["dt_ms"], frame["ratio"], "-o", ms=4, color="k")
    ax.set_ylabel("change in synaptic strength (after / before)")
    ax.set_title(title, fontsize=10)
    ax2.plot(frame["dt_ms"], frame["U"], "-", color="C3", label="U: DOWN -> UP")
    ax2.plot(frame["dt_ms"], frame["D"], "-", color="C0", label="D: UP -> DOWN")
    ax2.set_xlabel("dt = t_post - t_pre (ms)")
    ax2.set_ylabel("probability")
    ax2.legend(fontsize=7)
    return fig


def plot_gb_frequency(frame, data=None, title: str = "Graupner & Brunel 2012 (DP): pairing frequency"):
    """Strength ratio against rho for +/- dt (``gb_frequency`` frame); ``data`` as in
    :func:`plot_clopath_frequency`, drawn as ``1 + dw``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.axhline(1, color="0.7", lw=0.8)
    for k, (dt, g) in enumerate(frame.groupby("dt_ms", sort=False)):
        g = g.sort_values("rho_hz")
        ax.plot(g["rho_hz"], g["ratio"], "-o", color=f"C{k}", lw=2, label=f"model dt={dt:+g} ms")
        if data is not None:
            d = data[(data["protocol"] == "pairing_freq") & (data["dt_ms"] == dt)].sort_values("rho_hz")
            ax.errorbar(d["rho_hz"], 1 + d["dw_mean"], yerr=d["dw_sem"], fmt="s", mfc="none", color=f"C{k}",
                        capsize=3, label=f"Sjostrom 2001 dt={dt:+g} ms")
    ax.set_xlabel("pairing frequency rho (Hz)")
    ax.set_ylabel("change in synaptic strength")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return fig


def plot_cells(score, title: str | None = None):
    """Per-cell data (one point per cell with its SEM) and the model against dt, one panel per
    protocol (e.g. Wittenberg & Wang 2006 single pairings and bursts)."""
    plt = _plt()
    pts = score.points
    groups = list(pts.groupby("protocol", sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False, sharey=True)
    for ax, (protocol, g) in zip(axes[0], groups, strict=True):
        g = g.sort_values("dt_ms")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.errorbar(g["dt_ms"], g["dw_exp"], yerr=g["sem"], fmt="o", ms=3, color="0.4", capsize=2, label="cells")
        ax.plot(g["dt_ms"], g["dw_model"], "-", color="C3", lw=2, label="model")
        ax.set_title(protocol, fontsize=9)
        ax.set_xlabel("dt (ms)")
    axes[0][0].set_ylabel("dw (fractional)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title or f"{score.dataset}: E = {score.E:.2f}", fontsize=10)
    return fig
