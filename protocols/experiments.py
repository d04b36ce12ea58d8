"""The experiments: Bi & Poo 1998 window, Sjostrom 2001 frequency, Song et al. 2000, and the
two figures of Clopath et al. 2010 (pairing frequency, voltage clamp).

Each experiment is thin: it builds protocols (or a network) from ``brainlearn`` parts, sets
the paper's parameters in one visible block and returns a table-like result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Hz, ms, mV, second

from brainlearn.plasticity import PairSTDP, PlasticityRule
from brainlearn.protocols.engine import Protocol, run_protocol
from brainlearn.protocols.scoring import Score, score
from brainlearn.units import check_number, check_quantity

__all__ = [
    "WindowResult", "bi_poo", "bi_poo_protocols", "bi_poo_facts", "window_result", "fit_window", "sjostrom", "sjostrom_facts", "SongResult", "song",
    "clopath_frequency", "nest_pairing_times", "clopath_clamp", "gb_stdp_curve", "gb_frequency", "wittenberg_wang_facts",
    "froemke_facts", "nevian_facts",
]


# ------------------------------------------------------------------ Bi & Poo 1998
@dataclass(frozen=True)
class WindowResult:
    """An STDP window: ``frame`` (``dt_ms``, ``dw``) and the exponential fit ``params``."""

    frame: pd.DataFrame
    params: dict

    def to_frame(self) -> pd.DataFrame:
        """The window points."""
        return self.frame.copy()


def fit_window(dt_ms, dw) -> dict:
    """Fit ``A_plus exp(-dt / tau_plus)`` (dt >= 0) and ``-A_minus exp(dt / tau_minus)`` (dt < 0).

    Returns ``A_plus``, ``tau_plus_ms``, ``A_minus``, ``tau_minus_ms`` (NaN for a side that
    has no exponential shape: no change at all, a window whose largest change of the side's
    sign is not at the side's smallest ``|dt|``, or a fit whose time constant is not positive
    or exceeds ten times the widest ``|dt|``), and
    the largest changes of each sign: ``peak_ltp``, ``peak_ltp_dt_ms``, ``peak_ltd``,
    ``peak_ltd_dt_ms`` (NaN when there is none).
    """
    from scipy.optimize import curve_fit

    dt_ms, dw = np.asarray(dt_ms, dtype=float), np.asarray(dw, dtype=float)
    out = {}
    for side, mask, sign in (("plus", dt_ms >= 0, 1.0), ("minus", dt_ms < 0, -1.0)):
        x, y = np.abs(dt_ms[mask]), sign * dw[mask]
        try:
            if mask.sum() < 3 or np.max(np.abs(y)) <= 1e-12:
                raise RuntimeError("flat")
            if x[np.argmax(y)] != x.min():  # an exponential window is largest nearest dt = 0
                raise RuntimeError("peaks away from dt = 0")
            (a, tau), _ = curve_fit(lambda t, a, tau: a * np.exp(-t / tau), x, y,
                                    p0=(y[np.argmin(x)] or 1e-3, 20.0), maxfev=20000)
            if not (np.isfinite(tau) and 0 < tau <= 10 * x.max()):
                raise RuntimeError("not an exponential window")
            out[f"A_{side}"], out[f"tau_{side}_ms"] = float(a), float(tau)
        except (RuntimeError, ValueError):
            out[f"A_{side}"], out[f"tau_{side}_ms"] = float("nan"), float("nan")
    nan = float("nan")
    k, j = int(np.argmax(dw)), int(np.argmin(dw))
    out["peak_ltp"], out["peak_ltp_dt_ms"] = (float(dw[k]), float(dt_ms[k])) if dw[k] > 0 else (nan, nan)
    out["peak_ltd"], out["peak_ltd_dt_ms"] = (float(dw[j]), float(dt_ms[j])) if dw[j] < 0 else (nan, nan)
    return out


def bi_poo_protocols(dts=None, n_pairs: int = 60, frequency=1 * Hz) -> list[Protocol]:
    """The protocols of :func:`bi_poo`: ``n_pairs`` pairs at ``frequency`` per dt (default
    -100 ms to +100 ms in 5 ms steps), named ``dt=<dt>ms``."""
    if dts is None:
        dts = np.arange(-100, 101, 5) * ms
    check_quantity("dts", dts, ms, allow_array=True)
    dt_ms = np.asarray(dts / ms, dtype=float)
    return [Protocol.pairing(d * ms, n_pairs, frequency, name=f"dt={d:+g}ms") for d in dt_ms]


def window_result(protocols: list[Protocol], frame: pd.DataFrame) -> WindowResult:
    """The :class:`WindowResult` of the engine's rows ``frame`` for pairing ``protocols``."""
    dt_ms = np.array([float((p.post[0] - p.pre[0]) / ms) for p in protocols])
    frame = frame.reset_index(drop=True).copy()
    frame.insert(0, "dt_ms", dt_ms)
    return WindowResult(frame, fit_window(dt_ms, frame["dw"]))


def bi_poo(rule: PlasticityRule, dts=None, n_pairs: int = 60, frequency=1 * Hz, **run_kwargs) -> WindowResult:
    """The STDP window of Bi & Poo (1998): ``n_pairs`` pairs at ``frequency`` for each dt.

    Parameters
    ----------
    rule : PlasticityRule
        The rule (run at ``w0 = 1``; use no upper bound).
    dts : Quantity, optional
        Pairing intervals ``t_post - t_pre`` (default -100 ms to +100 ms in 5 ms steps, 41 points).
    n_pairs : int
        Pairs per condition (60 in the experiment).
    frequency : Quantity
        Pairing frequency (1 Hz in the experiment).
    **run_kwargs
        Passed to :func:`run_protocol` (e.g. ``target``).
    """
    protocols = bi_poo_protocols(dts, n_pairs, frequency)
    return window_result(protocols, run_protocol(rule, protocols, w0=1.0, **run_kwargs))


def bi_poo_facts(frame: pd.DataFrame) -> dict[str, bool]:
    """The qualitative facts of Bi & Poo (1998) on a window (``dt_ms``, ``dw``).

    1. ``ltp_post_after_pre``: dw > 0 for every 0 < dt <= 20 ms (post within ~20 ms after pre).
    2. ``ltd_post_before_pre``: dw < 0 for every -20 ms <= dt < 0.
    3. ``window_decays``: ``|dw|`` at +/-100 ms is below a quarter of the largest ``|dw|`` within +/-20 ms.
    """
    dt, dw = frame["dt_ms"].to_numpy(), frame["dw"].to_numpy()
    near = np.abs(dw[(np.abs(dt) <= 20) & (dt != 0)])
    far = np.abs(dw[np.abs(dt) >= 100])
    return {
        "ltp_post_after_pre": bool(np.all(dw[(dt > 0) & (dt <= 20)] > 0)),
        "ltd_post_before_pre": bool(np.all(dw[(dt < 0) & (dt >= -20)] < 0)),
        "window_decays": bool(near.size and far.size and far.max() < 0.25 * near.max()),
    }


# ---------------------------------------------------------------- Sjostrom 2001
def sjostrom_facts(points: pd.DataFrame, tol: float = 0.05) -> dict[str, bool]:
    """The four qualitative facts of Sjostrom et al. (2001) on ``dw_model`` of a Score table.

    1. ``no_ltp_low_freq``: dw(+10 ms, 0.1 Hz) < ``tol`` (no LTP).
    2. ``ltd_minus10_upto_20hz``: dw(-10 ms, rho) < 0 for rho <= 20 Hz.
    3. ``ltp_grows_with_rho``: dw(+10 ms, rho) increases with rho (drops below ``-tol/10``
       between neighbours count as decreases) and dw(+10 ms, 50 Hz) > dw(+10 ms, 10 Hz) + ``tol``.
    4. ``both_potentiate_40hz``: dw(+/-10 ms, rho) > 0 for rho >= 40 Hz.
    """
    p = points[points["protocol"] == "pairing_freq"]

    def dw(dt, rho):
        sel = p[(p["dt_ms"] == dt) & (p["rho_hz"] == rho)]
        return float(sel["dw_model"].iloc[0])

    plus = p[p["dt_ms"] == 10].sort_values("rho_hz")
    minus = p[p["dt_ms"] == -10]
    steps = np.diff(plus["dw_model"].to_numpy())
    return {
        "no_ltp_low_freq": dw(10, 0.1) < tol,
        "ltd_minus10_upto_20hz": bool((minus[minus["rho_hz"] <= 20]["dw_model"] < 0).all()),
        "ltp_grows_with_rho": bool(np.all(steps > -tol / 10) and dw(10, 50) > dw(10, 10) + tol),
        "both_potentiate_40hz": bool((p[p["rho_hz"] >= 40]["dw_model"] > 0).all()),
    }


def wittenberg_wang_facts(points: pd.DataFrame) -> dict[str, bool]:
    """The qualitative facts of Wittenberg & Wang (2006) on ``dw_model`` of a Score table.

    1. ``single_ltd_pre_post``: single pairings with dt > 0 depress (mean over the cells' dt).
    2. ``single_ltd_post_pre``: single pairings with dt < 0 depress.
    3. ``burst_ltp_10_25ms``: EPSP + two-AP burst with the second AP 10-25 ms after the EPSP
       potentiates (mean over those cells).
    """
    single = points[points["protocol"] == "single_pairing"]
    burst = points[(points["protocol"] == "burst_pairing") & points["dt_ms"].between(10, 25)]
    return {
        "single_ltd_pre_post": bool(single[single["dt_ms"] > 0]["dw_model"].mean() < 0),
        "single_ltd_post_pre": bool(single[single["dt_ms"] < 0]["dw_model"].mean() < 0),
        "burst_ltp_10_25ms": bool(burst["dw_model"].mean() > 0),
    }


def froemke_facts(points: pd.DataFrame) -> dict[str, bool]:
    """The qualitative facts of Froemke et al. (2006) on ``dw_model`` of a Score table.

    1. ``postpre_ltd_10hz``: post-pre pairs at 10 Hz depress.
    2. ``postpre_ltp_100hz``: post-pre pairs at 100 Hz potentiate.
    3. ``more_post_spikes_less_ltd``: dw grows with the number of post spikes (1 to 5) and
       ends above the single-spike value.
    """
    freq = points[points["protocol"] == "postpre_pairing_freq"].set_index("rho_hz")["dw_model"]
    burst = points[points["protocol"] == "n_post_spikes"].sort_values("n_post")["dw_model"].to_numpy()
    return {
        "postpre_ltd_10hz": bool(freq.loc[10] < 0),
        "postpre_ltp_100hz": bool(freq.loc[100] > 0),
        "more_post_spikes_less_ltd": bool(np.all(np.diff(burst) >= -1e-3) and burst[-1] > burst[0]),
    }


def nevian_facts(points: pd.DataFrame) -> dict[str, bool]:
    """The qualitative facts of Nevian & Sakmann (2006) on ``dw_model`` of a Score table.

    1. ``prepost_burst_ltp_50_100hz``: a pre spike before 3 post spikes at 50 and 100 Hz potentiates.
    2. ``prepost_ltp_grows_with_rate``: that potentiation is larger at 50 Hz than at 20 Hz.
    3. ``postpre_burst_ltd``: 3 post spikes followed by the pre spike depress at every rate.
    """
    pre = points[points["protocol"] == "burst_prepost_3spikes"].set_index("rho_hz")["dw_model"]
    post = points[points["protocol"] == "burst_postpre_3spikes"]["dw_model"]
    return {
        "prepost_burst_ltp_50_100hz": bool(pre.loc[50] > 0 and pre.loc[100] > 0),
        "prepost_ltp_grows_with_rate": bool(pre.loc[50] > pre.loc[20]),
        "postpre_burst_ltd": bool((post < 0).all()),
    }


def sjostrom(rule: PlasticityRule, dataset: str = "sjostrom2001", structure: str = "bursts",
             **kwargs) -> tuple[Score, dict]:
    """Score ``rule`` on the Sjostrom frequency protocol and check the four facts.

    Returns the :class:`Score` and the facts (:func:`sjostrom_facts`).
    """
    result = score(rule, dataset, structure=structure, **kwargs)
    return result, sjostrom_facts(result.points)


# ------------------------------------------------------- Song, Miller & Abbott 2000
@dataclass(frozen=True)
class SongResult:
    """Final weights (fractions of ``g_max``), output rate and the bimodality numbers."""

    weights: np.ndarray
    output_rate_hz: float
    frac_low: float
    frac_high: float
    ratio: float

    @property
    def bimodal(self) -> bool:
        """Piles at both bounds: at least 10 % of the weights within 10 % of each."""
        return self.frac_low >= 0.1 and self.frac_high >= 0.1

    def to_frame(self) -> pd.DataFrame:
        """One row of summary numbers."""
        return pd.DataFrame([{
            "ratio": self.ratio, "n_inputs": self.weights.size, "output_rate_hz": self.output_rate_hz,
            "frac_low": self.frac_low, "frac_high": self.frac_high, "bimodal": self.bimodal,
        }])


def song(
    ratio=1.05,
    n_inputs: int = 1000,
    rate=15 * Hz,
    duration=100 * second,
    seed: int = 0,
    amplitude: float = 0.01,
    device: str = "runtime",
    target: str = "numpy",
    directory: str | None = None,
) -> SongResult:
    """Competitive Hebbian learning (Song, Miller & Abbott 2000; Brian2 ``examples/synapses/STDP.py``).

    Parameters
    ----------
    ratio : float or sequence of float
        A-/A+ (1.05 in the paper: depression slightly dominates). A sequence runs one
        postsynaptic neuron per ratio in the same simulation (the inputs are shared) and
        returns a list of results.
    n_inputs : int
        Poisson inputs (1000); ``g_max`` is scaled by 1000 / n_inputs to keep the drive.
    rate : Quantity
        Input rate (15 Hz).
    duration : Quantity
        Simulated time (100 s).
    seed : int
        Seed of the inputs and initial weights.
    amplitude : float
        A+ as a fraction of g_max (0.01); larger values converge faster (short test runs).
    device : {"runtime", "cpp_standalone"}
        ``cpp_standalone`` compiles (~10 s) and runs 100 s in a few seconds.
    target : str
        Code generation target in runtime mode.
    directory : str, optional
        Build directory for ``cpp_standalone`` (default a fresh temporary one).
    """
    import tempfile

    from brian2 import (
        Network,
        PoissonGroup,
        SpikeMonitor,
        Synapses,
        defaultclock,
    )
    from brian2 import seed as brian_seed

    from brainlearn.devices import build, use_device
    from brainlearn.neurons import ConductanceLIF

    scalar = np.ndim(ratio) == 0
    ratios = [check_number("ratio", r) for r in np.atleast_1d(ratio)]
    amplitude = check_number("amplitude", amplitude)
    check_quantity("rate", rate, Hz)
    check_quantity("duration", duration, second)
    if device not in ("runtime", "cpp_standalone"):
        raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device!r}")
    # --- Song, Miller & Abbott (2000), as in Brian2's examples/synapses/STDP.py -----------
    neuron = ConductanceLIF(tau_m=10 * ms, v_rest=-74 * mV, v_reset=-60 * mV, v_thresh=-54 * mV,
                            E_exc=0 * mV, tau_ge=5 * ms, refractory=0 * ms)
    g_max = 0.01 * 1000 / int(n_inputs)
    rule = PairSTDP(A_plus=amplitude, A_minus=amplitude, tau_plus=20 * ms, tau_minus=20 * ms,
                    w_min=0.0, w_max=1.0)
    # -------------------------------------------------------------------------------------
    if device == "cpp_standalone":
        directory = directory or tempfile.mkdtemp(prefix="brainlearn_song_")
    with use_device(device, directory, runtime_target=target):
        defaultclock.dt = 0.1 * ms
        brian_seed(seed)
        inputs = PoissonGroup(int(n_inputs), rates=rate)
        post = neuron.group(len(ratios))
        code = rule.render(on_pre_effect="ge_post += g_max * w")
        ns = dict(code.namespace, g_max=g_max)
        ns.pop("A_minus")  # one A- per postsynaptic neuron
        syn = Synapses(inputs, post, model=code.model + "\nA_minus : 1 (constant)", on_pre=code.on_pre,
                       on_post=code.on_post, namespace=ns)
        syn.connect()
        syn.w = "rand()"
        syn.A_minus = amplitude * np.repeat(np.asarray(ratios)[None, :], int(n_inputs), axis=0).ravel()
        spikes = SpikeMonitor(post)
        Network(inputs, post, syn, spikes).run(duration)
        if device == "cpp_standalone":
            build(directory, run=True, what="Song et al. network")
        weights = np.asarray(syn.w[:], dtype=float).reshape(int(n_inputs), len(ratios))
        n_out = np.bincount(np.asarray(spikes.i[:]), minlength=len(ratios))
    results = [
        SongResult(
            weights=weights[:, k],
            output_rate_hz=float(n_out[k]) / float(duration / second),
            frac_low=float(np.mean(weights[:, k] <= 0.1)),
            frac_high=float(np.mean(weights[:, k] >= 0.9)),
            ratio=r,
        )
        for k, r in enumerate(ratios)
    ]
    return results[0] if scalar else results


# ------------------------------------------------------------ Clopath et al. 2010
def clopath_frequency(rule=None, neuron=None, rhos=(0.1, 10, 20, 30, 40, 50), n_pairs: int = 5,
                      lag=10 * ms, w0: float = 0.5, target: str = "cython", layout: str = "paper",
                      settle=None) -> pd.DataFrame:
    """Clopath et al. (2010) Fig. 2b: ``n_pairs`` pairs at +/- ``lag`` and frequency rho.

    Every (order, rho) is a lane of one Brian2 run on the paper's AdEx neuron
    (:func:`brainlearn.protocols.runners.voltage.run_voltage_protocol`, dt 0.1 ms). The weight is
    reported as in the paper, ``100 + 100 * 15 * (w - w0) / w0`` percent (15 turns 5 pairings
    into the 75 of Sjostrom et al. 2001).

    Parameters
    ----------
    rule : ClopathSTDP, optional
        Default: the visual-cortex parameters.
    neuron : ClopathAdEx, optional
        Default: ``ClopathAdEx()``.
    rhos : sequence of float
        Pairing frequencies in Hz.
    n_pairs : int
        Pairs per protocol (5).
    lag : Quantity
        ``|t_post - t_pre|`` (10 ms).
    w0 : float
        Initial weight.
    target : str
        Code generation target (``cython``: the 0.1 Hz lanes last 40 s).
    layout : {"paper", "nest"}
        ``"paper"``: the pairs from ``settle`` (default 10 ms), the weight read at the end of
        the run (10 ms after the last spike) with brainlearn's conventions. ``"nest"``: NEST's
        ``test_clopath_synapse.py`` (:func:`nest_pairing_times`): presynaptic spikes every
        ``1 / rho`` from ``settle`` (default 29 ms), pre-post pairings one period later and
        with a trailing pair whose presynaptic spike applies the last pairs' potentiation
        (NEST applies LTP at the next presynaptic spike); the weight read right after the
        last presynaptic spike, as NEST's weight recorder does; NEST's delay convention and
        input timing (0.1 ms dendritic delay, ``timing="nest"``) with spike times as NEST
        stamps them (0.1 ms after its generators).
    settle : Quantity, optional
        Time before the first spike (see ``layout``).

    Returns
    -------
    pandas.DataFrame
        ``dt_ms``, ``rho_hz``, ``w_after``, ``normalised`` (percent), ``n_post_fired``.
    """
    from brainlearn.plasticity import ClopathSTDP
    from brainlearn.protocols.runners.voltage import normalised_weight, run_voltage_protocol

    if layout not in ("paper", "nest"):
        raise ValueError(f"layout must be 'paper' or 'nest', got {layout!r}")
    rule = rule if rule is not None else ClopathSTDP()
    lag_ms = float(check_quantity("lag", lag, ms) / ms)
    rows = [(sign * lag_ms, float(r)) for sign in (1, -1) for r in rhos]
    if layout == "paper":
        settle = 10 * ms if settle is None else check_quantity("settle", settle, ms)
        protocols = [Protocol.burst_pairing(d * ms, r * Hz, pairs=n_pairs, bursts=1, name=f"dt={d:+g}ms rho={r:g}Hz")
                     for d, r in rows]
        run = run_voltage_protocol(rule, protocols, w0=w0, neuron=neuron, target=target, settle=settle)
        w = run.frame["w_after"]
    else:
        start = 29.0 if settle is None else float(check_quantity("settle", settle, ms) / ms)
        protocols = []
        for d, r in rows:
            pre, post = nest_pairing_times(d, r, n_pairs, start)
            # NEST stamps the parrot's and the neuron's spikes 0.1 ms after the generators
            protocols.append(Protocol((pre + 0.1) * ms, (post + 0.1) * ms, name=f"dt={d:+g}ms rho={r:g}Hz"))
        run = run_voltage_protocol(rule, protocols, w0=w0, neuron=neuron, target=target,
                                   settle=0.1 * ms, dendritic_delay=0.1 * ms, timing="nest")
        w = run.frame["w_last_pre"]
    return pd.DataFrame({
        "dt_ms": [d for d, _ in rows], "rho_hz": [r for _, r in rows], "w_after": w,
        "normalised": normalised_weight(w, w0), "n_post_fired": run.frame["n_post_fired"],
    })


def nest_pairing_times(lag_ms: float, rho_hz: float, n_pairs: int = 5, start_ms: float = 29.0):
    """Generator times (ms, rounded to 0.1 ms) of one pairing of NEST's
    ``test_clopath_synapse.py``: post-pre (``lag < 0``): ``n_pairs`` pairs whose presynaptic
    spikes come every ``1 / rho`` from ``start_ms``; pre-post: ``n_pairs + 1`` pairs starting
    one period later (NEST's test: pre at 129, 229, ... ms at 10 Hz), the last one's
    presynaptic spike reading out the potentiation of the others. (NEST's test writes its
    30 Hz pre-post row by hand: 95.6 and 195.6 ms where rounding gives 95.7 and 195.7.)"""
    period = 1000.0 / float(rho_hz)
    k = np.arange(int(n_pairs) + 1) + 1 if lag_ms > 0 else np.arange(int(n_pairs))
    pre = np.round(start_ms + period * k, 1)
    return pre, np.round(pre + lag_ms, 1)


def clopath_clamp(rule=None, voltages=None, n_pre: int = 50, rate=10 * Hz) -> pd.DataFrame:
    """Clopath et al. (2010) voltage-clamp figure: dw after ``n_pre`` presynaptic spikes at
    ``rate`` with the postsynaptic potential clamped (default -80 to -30 mV); see
    :func:`brainlearn.protocols.runners.voltage.voltage_clamp`."""
    from brainlearn.plasticity import ClopathSTDP
    from brainlearn.protocols.runners.voltage import voltage_clamp

    rule = rule if rule is not None else ClopathSTDP(w_max=None)
    if voltages is None:
        voltages = np.arange(-80.0, -29.0, 1.0) * mV
    return voltage_clamp(rule, voltages, n_pre=n_pre, rate=rate)


# --------------------------------------------------------- Graupner & Brunel 2012
def gb_stdp_curve(rule=None, dts=None, n_pairs: int = 60, frequency=1 * Hz, repetitions: int = 150,
                  seed: int = 0, target: str = "cython") -> pd.DataFrame:
    """Graupner & Brunel (2012) Fig. 2: strength ratio after ``n_pairs`` pairs at ``frequency``.

    Every dt is run on ``repetitions`` synapses started DOWN and as many started UP, all lanes
    of one Brian2 run (:func:`brainlearn.protocols.runners.calcium.run_calcium_protocol`).

    Parameters
    ----------
    rule : GraupnerBrunelSTDP, optional
        Default: the DP parameter set.
    dts : Quantity, optional
        ``t_post - t_pre`` (default -100..100 ms in 10 ms steps).
    n_pairs, frequency
        60 pairs at 1 Hz (the paper).
    repetitions, seed : int
        Synapses per start state and the noise seed.
    target : str
        Code generation target.

    Returns
    -------
    pandas.DataFrame
        ``dt_ms``, ``U``, ``D``, ``ratio``, ``dw``.
    """
    from brainlearn.plasticity import GraupnerBrunelSTDP
    from brainlearn.protocols.runners.calcium import run_calcium_protocol

    rule = rule if rule is not None else GraupnerBrunelSTDP()
    if dts is None:
        dts = np.arange(-100, 101, 10) * ms
    dt_ms = np.asarray(check_quantity("dts", dts, ms, allow_array=True) / ms, dtype=float)
    protocols = [Protocol.pairing(d * ms, n_pairs, frequency, name=f"dt={d:+g}ms") for d in dt_ms]
    frame = run_calcium_protocol(rule, protocols, repetitions=repetitions, seed=seed, target=target)
    frame.insert(0, "dt_ms", dt_ms)
    return frame


def gb_frequency(rule=None, rhos=(1, 5, 10, 20, 30, 40, 50), lag=10 * ms, n_pairs: int = 60,
                 repetitions: int = 150, seed: int = 0, target: str = "cython") -> pd.DataFrame:
    """Graupner & Brunel (2012) frequency dependence: ``n_pairs`` pairs at +/- ``lag`` and rho.

    Returns ``dt_ms``, ``rho_hz``, ``U``, ``D``, ``ratio``, ``dw`` (one Brian2 run).
    """
    from brainlearn.plasticity import GraupnerBrunelSTDP
    from brainlearn.protocols.runners.calcium import run_calcium_protocol

    rule = rule if rule is not None else GraupnerBrunelSTDP()
    lag_ms = float(check_quantity("lag", lag, ms) / ms)
    rows = [(sign * lag_ms, float(r)) for sign in (1, -1) for r in rhos]
    protocols = [Protocol.pairing(d * ms, n_pairs, r * Hz, name=f"dt={d:+g}ms rho={r:g}Hz") for d, r in rows]
    frame = run_calcium_protocol(rule, protocols, repetitions=repetitions, seed=seed, target=target)
    frame.insert(0, "rho_hz", [r for _, r in rows])
    frame.insert(0, "dt_ms", [d for d, _ in rows])
    return frame
