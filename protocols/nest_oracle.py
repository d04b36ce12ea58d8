"""NEST as a live oracle for the event-based STDP rules: the same spike trains through both.

:func:`nest_weights` drives one synapse of NEST's own STDP models with given pre and post spike
times and returns the weight after every presynaptic spike (NEST updates a weight only when a
presynaptic spike reaches it; the weight recorder reports it then). :func:`nest_synapse` maps a
brainlearn rule to the NEST model and parameters that implement it:

=============================================  ===============================================
brainlearn rule                                NEST model
=============================================  ===============================================
``PairSTDP(scheme="all-to-all")``              ``stdp_synapse`` (``lambda = A_plus / w_max``,
                                               ``alpha = A_minus / A_plus``, ``mu_plus``,
                                               ``mu_minus``, ``Wmax = w_max``)
``PairSTDP(scheme="nearest")``                 ``stdp_nn_symm_synapse`` (same parameters)
``PairSTDP(scheme="nearest-pre-centered")``    ``stdp_nn_pre_centered_synapse``
``PairSTDP(scheme="nearest-restricted")``      ``stdp_nn_restr_synapse``
``TripletSTDP(scheme="all-to-all")``           ``stdp_triplet_synapse`` (``tau_plus_triplet =
                                               tau_x``; ``tau_minus_triplet = tau_y`` on the
                                               post-synaptic neuron)
=============================================  ===============================================

Delays. NEST's synapse lives at the post-synaptic side: a presynaptic spike emitted at
``t_pre`` meets the post-synaptic history at ``t_pre``, and a post-synaptic spike at ``t_post``
counts at ``t_post + d`` (``d``, the synapse's delay, is the dendritic delay that the back-
propagating spike travels). brainlearn's :func:`brainlearn.plasticity.replay` has no delay: the
same pairing is ``replay(rule, pre, post + d)``; :func:`effective_times` gives those times.

Two conventions differ and are kept out of the equality by the input, not hidden:

- a post-synaptic spike whose effective time equals a presynaptic spike's: NEST pairs it with
  neither (not in the depression of that presynaptic spike, potentiated by the earlier ones
  only); brainlearn runs the presynaptic spike first, then the post-synaptic one, which
  potentiates with the presynaptic trace including that spike (a difference of ``A_plus`` times
  the weight factor);
- ``stdp_nn_symm_synapse`` and ``stdp_nn_restr_synapse`` pair a post-synaptic spike that comes
  before the first presynaptic spike with a presynaptic spike at t = 0 (their last-spike time
  starts at 0); brainlearn pairs it with nothing (``stdp_nn_pre_centered_synapse`` does not:
  its presynaptic trace starts at 0).

NEST is an optional dependency (``pip install "brainlearn[nest]"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from brainlearn.plasticity import PairSTDP, PlasticityRule, TripletSTDP

__all__ = ["NestSynapse", "nest_synapse", "nest_weights", "effective_times", "require_nest",
           "nest_clopath_neuron", "nest_clopath_weights", "nest_pairing", "clopath_side_by_side",
           "draw_trains", "compare_with_nest", "validation_table", "NEST_RULES", "NEST_NOTES"]

#: NEST's time step (ms); spike times must lie on its grid
RESOLUTION_MS = 0.1


def require_nest():
    """Import NEST quietly; a missing NEST is one line saying how to install it."""
    import os

    os.environ.setdefault("PYNEST_QUIET", "1")
    try:
        import nest
    except ImportError:
        raise ImportError("NEST is not installed: pip install \"brainlearn[nest]\" "
                          "(nest-simulator 3.10 from the package registry)") from None
    if hasattr(nest, "VerbosityLevel"):  # NEST 3.10
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # pragma: no cover - older NEST
        nest.set_verbosity("M_ERROR")
    return nest


@dataclass(frozen=True)
class NestSynapse:
    """A NEST synapse model with its parameters and those of its post-synaptic neuron."""

    model: str
    synapse: dict
    neuron: dict


def _ms(quantity) -> float:
    from brian2 import ms

    return float(quantity / ms)


#: NEST's nearest-neighbour synapse model of each nearest scheme of :class:`PairSTDP`
_NN_MODELS = {"nearest": "stdp_nn_symm_synapse",
              "nearest-pre-centered": "stdp_nn_pre_centered_synapse",
              "nearest-restricted": "stdp_nn_restr_synapse"}


def nest_synapse(rule: PlasticityRule) -> NestSynapse:
    """The NEST model and parameters that implement ``rule`` (see the module's table).

    Raises
    ------
    ValueError
        A rule (or a setting of it) NEST has no model for.
    """
    if isinstance(rule, PairSTDP):
        if rule.w_max is None or rule.w_min != 0:
            raise ValueError("NEST's pair rules clip to [0, Wmax]: give w_min=0 and a w_max")
        common = {"lambda": rule.A_plus / rule.w_max, "alpha": rule.A_minus / rule.A_plus,
                  "tau_plus": _ms(rule.tau_plus), "Wmax": rule.w_max}
        if rule.scheme == "all-to-all":
            return NestSynapse("stdp_synapse",
                               {**common, "mu_plus": rule.mu_plus, "mu_minus": rule.mu_minus},
                               {"tau_minus": _ms(rule.tau_minus)})
        return NestSynapse(_NN_MODELS[rule.scheme],
                           {**common, "mu_plus": rule.mu_plus, "mu_minus": rule.mu_minus},
                           {"tau_minus": _ms(rule.tau_minus)})
    if isinstance(rule, TripletSTDP):
        if rule.scheme != "all-to-all" or rule.tau_x is None:
            raise ValueError("NEST's stdp_triplet_synapse is the all-to-all rule with tau_x")
        if rule.w_min != 0:
            raise ValueError("NEST's triplet rule clips at 0: give w_min=0")
        return NestSynapse("stdp_triplet_synapse", {
            "tau_plus": _ms(rule.tau_plus), "tau_plus_triplet": _ms(rule.tau_x),
            "Aplus": rule.A2_plus, "Aplus_triplet": rule.A3_plus, "Aminus": rule.A2_minus,
            "Aminus_triplet": rule.A3_minus,
            "Wmax": 1e12 if rule.w_max is None else rule.w_max,
        }, {"tau_minus": _ms(rule.tau_minus), "tau_minus_triplet": _ms(rule.tau_y)})
    raise ValueError(f"no NEST model for {type(rule).__name__}; compared: PairSTDP, TripletSTDP")


def effective_times(pre_ms, post_ms, delay_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """The spike times (ms) at which NEST's synapse pairs them: pre as emitted, post + delay.

    The parrot neurons that emit the trains in :func:`nest_weights` fire one step after their
    generators, so both are shifted by :data:`RESOLUTION_MS` as well.
    """
    pre = np.asarray(pre_ms, float) + RESOLUTION_MS
    post = np.asarray(post_ms, float) + RESOLUTION_MS + delay_ms
    return pre, post


def nest_weights(rule: PlasticityRule, pre_ms, post_ms, *, delay_ms: float = 1.0,
                 w0: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Drive one NEST synapse implementing ``rule`` and record its weight at every pre spike.

    Two spike generators drive two ``parrot_neuron`` (pre and post); the plastic connection
    goes to the post parrot's receptor 1, which does not make it fire, so the post-synaptic
    spikes are exactly ``post_ms``. The post parrot keeps the spike history STDP reads.

    Parameters
    ----------
    rule : PlasticityRule
        A rule :func:`nest_synapse` maps.
    pre_ms, post_ms : array of float
        Spike times of the generators in ms, on the 0.1 ms grid, > 0.
    delay_ms : float
        The synapse's delay (NEST's dendritic delay), on the grid.
    w0 : float
        The initial weight.

    Returns
    -------
    times, weights : numpy arrays
        The time (ms) of each presynaptic spike (its parrot's, one step after the generator's)
        and the weight after it.
    """
    nest = require_nest()
    spec = nest_synapse(rule)
    nest.ResetKernel()
    nest.resolution = RESOLUTION_MS
    recorder = nest.Create("weight_recorder")
    nest.CopyModel(spec.model, "brainlearn_oracle_synapse", {"weight_recorder": recorder})
    pre_gen = nest.Create("spike_generator", params={"spike_times": list(map(float, pre_ms))})
    post_gen = nest.Create("spike_generator", params={"spike_times": list(map(float, post_ms))})
    pre = nest.Create("parrot_neuron")
    post = nest.Create("parrot_neuron", params=spec.neuron)
    nest.Connect(pre_gen, pre, syn_spec={"delay": RESOLUTION_MS})
    nest.Connect(post_gen, post, syn_spec={"delay": RESOLUTION_MS})
    nest.Connect(pre, post, syn_spec={"synapse_model": "brainlearn_oracle_synapse",
                                      "receptor_type": 1, "delay": float(delay_ms),
                                      "weight": float(w0), **spec.synapse})
    end = max(np.max(pre_ms, initial=0.0), np.max(post_ms, initial=0.0))
    nest.Simulate(float(end) + 2 * delay_ms + 1.0)
    events = recorder.get("events")
    order = np.argsort(events["times"], kind="stable")
    # the recorder stamps the presynaptic spike's time (the pre parrot's spike)
    return np.asarray(events["times"])[order], np.asarray(events["weights"])[order]


# ---------------------------------------------------------------- Clopath et al. (2010)
def nest_clopath_neuron(rule, neuron) -> dict:
    """``aeif_psc_delta_clopath`` parameters (NEST units) of a :class:`ClopathAdEx` neuron
    with the filters, thresholds and amplitudes of a :class:`ClopathSTDP` rule."""
    from brian2 import mV, nS, pA, pF

    def val(q, unit):
        return float(q / unit)

    return {
        "C_m": val(neuron.C, pF), "g_L": val(neuron.g_L, nS), "E_L": val(neuron.E_L, mV),
        "V_m": val(neuron.E_L, mV), "V_th_rest": val(neuron.V_T_rest, mV),
        "Delta_T": val(neuron.Delta_T, mV), "tau_w": _ms(neuron.tau_w), "a": val(neuron.a, nS),
        "b": val(neuron.b, pA), "I_sp": val(neuron.I_sp, pA), "tau_z": _ms(neuron.tau_z),
        "V_th_max": val(neuron.V_T_max, mV), "tau_V_th": _ms(neuron.tau_VT),
        "V_peak": val(neuron.V_peak, mV), "V_clamp": val(neuron.V_clamp, mV),
        "t_clamp": _ms(neuron.t_clamp), "V_reset": val(neuron.V_reset, mV), "t_ref": 0.0,
        "A_LTD": float(rule.A_LTD * mV), "A_LTP": float(rule.A_LTP * mV**2),
        "theta_minus": val(rule.theta_minus, mV), "theta_plus": val(rule.theta_plus, mV),
        "tau_u_bar_minus": _ms(rule.tau_minus), "tau_u_bar_plus": _ms(rule.tau_plus),
        "delay_u_bars": _ms(rule.delay), "A_LTD_const": True,
    }


def nest_clopath_weights(rule, neuron, pre_ms, post_ms, *, w0: float = 0.5, kick_mV: float = 80.0,
                         delay_ms: float = RESOLUTION_MS) -> tuple[np.ndarray, np.ndarray]:
    """NEST's ``clopath_synapse`` onto ``aeif_psc_delta_clopath``, laid out as NEST's
    ``test_clopath_synapse.py`` lays it out: the presynaptic generator drives a parrot
    neuron (0.1 ms), the parrot the neuron through the plastic synapse (``delay_ms``); the
    postsynaptic generator kicks the neuron by ``kick_mV`` (0.1 ms). Returns the time of
    every presynaptic (parrot) spike and the weight after it, as the weight recorder has them.
    """
    nest = require_nest()
    nest.ResetKernel()
    nest.resolution = RESOLUTION_MS
    nrn = nest.Create("aeif_psc_delta_clopath", 1, nest_clopath_neuron(rule, neuron))
    parrot = nest.Create("parrot_neuron")
    pre_gen = nest.Create("spike_generator", params={"spike_times": list(map(float, pre_ms))})
    post_gen = nest.Create("spike_generator", params={"spike_times": list(map(float, post_ms))})
    nest.Connect(pre_gen, parrot, syn_spec={"delay": RESOLUTION_MS})
    nest.Connect(post_gen, nrn, syn_spec={"delay": RESOLUTION_MS, "weight": float(kick_mV)})
    recorder = nest.Create("weight_recorder")
    nest.CopyModel("clopath_synapse", "brainlearn_oracle_clopath", {"weight_recorder": recorder})
    nest.Connect(parrot, nrn, syn_spec={
        "synapse_model": "brainlearn_oracle_clopath", "weight": float(w0), "delay": float(delay_ms),
        "tau_x": _ms(rule.tau_x), "Wmin": float(rule.w_min),
        "Wmax": 1e12 if rule.w_max is None else float(rule.w_max)})
    end = max(np.max(pre_ms, initial=0.0), np.max(post_ms, initial=0.0))
    nest.Simulate(float(end) + 10.0)
    events = recorder.get("events")
    order = np.argsort(events["times"], kind="stable")
    return np.asarray(events["times"])[order], np.asarray(events["weights"])[order]


def nest_pairing(lag_ms: float, rho_hz: float, n_pairs: int = 5, start_ms: float = 29.0):
    """Generator times of one pairing laid out as NEST's ``test_clopath_synapse.py``
    (:func:`brainlearn.protocols.experiments.nest_pairing_times`)."""
    from brainlearn.protocols.experiments import nest_pairing_times

    return nest_pairing_times(lag_ms, rho_hz, n_pairs, start_ms)


def clopath_side_by_side(rule, neuron, trains, *, w0: float = 0.5, target: str = "cython"):
    """NEST and brainlearn on the same Clopath pairings: the weight after the last presynaptic
    spike of each ``(pre_ms, post_ms)`` generator train, on the paper's scale
    (``100 + 1500 (w - w0) / w0``).

    brainlearn runs every train as a lane of one run with NEST's conventions: spike times
    as NEST's parrot and neuron stamp them (generator + 0.1 ms), ``dendritic_delay`` 0.1 ms
    (the synapse's delay in NEST's test) and ``timing="nest"``
    (:func:`brainlearn.plasticity.voltage.run_voltage_lanes`).

    Returns
    -------
    nest, brainlearn : numpy arrays (percent)
    """
    from brian2 import ms

    from brainlearn.protocols.engine import Protocol
    from brainlearn.protocols.runners.voltage import normalised_weight, run_voltage_protocol

    nest_w = [nest_clopath_weights(rule, neuron, pre, post, w0=w0)[1][-1] for pre, post in trains]
    protocols = [Protocol((np.asarray(pre) + RESOLUTION_MS) * ms, (np.asarray(post) + RESOLUTION_MS) * ms,
                          name=str(k)) for k, (pre, post) in enumerate(trains)]
    run = run_voltage_protocol(rule, protocols, w0=w0, neuron=neuron, settle=0.2 * ms, target=target,
                               dendritic_delay=RESOLUTION_MS * ms, timing="nest")
    return normalised_weight(nest_w, w0), normalised_weight(run.frame["w_last_pre"], w0)


#: the rules of ``brainlearn protocol nest``: brainlearn rule and NEST model
NEST_RULES = {
    "pair": (PairSTDP(), "stdp_synapse"),
    "pair-nearest": (PairSTDP(scheme="nearest"), "stdp_nn_symm_synapse"),
    "pair-pre-centered": (PairSTDP(scheme="nearest-pre-centered"), "stdp_nn_pre_centered_synapse"),
    "pair-restricted": (PairSTDP(scheme="nearest-restricted"), "stdp_nn_restr_synapse"),
    "triplet": (TripletSTDP.preset("visual-aa-full", A2_plus=5e-3, A3_minus=2.3e-3), "stdp_triplet_synapse"),
}


def draw_trains(rng: np.random.Generator, delay_ms: float, duration: float = 2000.0):
    """Pre and post generator times (ms, 0.1 ms grid) of random rates (5..40 Hz) without
    exact coincidences of a post spike's effective time (t + delay) with a pre spike; the
    first spike is a pre spike at 0.5 ms."""
    rates = rng.uniform(5.0, 40.0, 2)
    pre, post = (np.unique(np.round(rng.uniform(1.0, duration, rng.poisson(r * duration / 1e3)), 1))
                 for r in rates)
    pre = np.r_[0.5, pre[pre > 0.5]]
    post = post[(post > 0.5) & ~np.isin(np.round(post + delay_ms, 1), np.round(pre, 1))]
    return pre, post


#: per rule of :data:`NEST_RULES` (and ``clopath``): the tolerance asserted and the differences
#: in mechanism that remain (the "validated against NEST" table)
NEST_NOTES = {
    "pair": ("rtol 1e-9", "a post spike whose effective time equals a pre spike's: NEST pairs it "
                          "with neither, brainlearn potentiates it (A_plus apart)"),
    "pair-nearest": ("rtol 1e-9", "NEST pairs a post spike before the first pre spike with a pre "
                                  "spike at t = 0"),
    "pair-pre-centered": ("rtol 1e-9", "none found (coincident spikes kept out of the input)"),
    "pair-restricted": ("rtol 1e-9", "NEST pairs a post spike before the first pre spike with a pre "
                                     "spike at t = 0"),
    "triplet": ("rtol 1e-9", "none found (coincident spikes kept out of the input)"),
    "clopath": ("0.2 points on the paper's scale", "NEST integrates the neuron with GSL RK45, brainlearn "
                                                   "with Euler at 0.1 ms; compared with NEST's delay "
                                                   "convention, input timing, filter integration and "
                                                   "weight reading (timing='nest')"),
}


def validation_table(seed: int = 0) -> pd.DataFrame:
    """Every rule of ``brainlearn protocol nest`` against NEST on input drawn from ``seed``:
    ``rule``, ``nest_model``, ``seed``, ``compared`` (what was compared), ``largest_difference``,
    ``tolerance`` and ``mechanism_differences`` (written by ``brainlearn protocol nest all``)."""
    rows = []
    for name in [*NEST_RULES, "clopath"]:
        _, largest, what = _compare(name, seed, None)
        model = "clopath_synapse + aeif_psc_delta_clopath" if name == "clopath" else NEST_RULES[name][1]
        tol, notes = NEST_NOTES[name]
        rows.append({"rule": name, "nest_model": model, "seed": seed, "compared": what,
                     "largest_difference": f"{largest:.3g}", "tolerance": tol,
                     "mechanism_differences": notes})
    return pd.DataFrame(rows)


def compare_with_nest(name: str, seed: int = 0, points: int | None = None) -> str:
    """``brainlearn protocol nest``: one rule in NEST and brainlearn on input drawn from
    ``seed``; a table of both columns and the largest difference."""
    return _compare(name, seed, points)[0]


def _compare(name: str, seed: int, points: int | None) -> tuple[str, float, str]:
    """The text of :func:`compare_with_nest`, the largest difference and what it is over."""
    from brian2 import ms, mV, pA

    rng = np.random.default_rng(seed)
    if name == "clopath":
        from brainlearn.neurons import ClopathAdEx
        from brainlearn.plasticity import ClopathSTDP

        k = points or 4
        lags = np.round(rng.uniform(-20.0, 20.0, k), 1)
        rhos = np.round(np.exp(rng.uniform(0.0, np.log(50.0), k)), 2)
        trains = [nest_pairing(lag, rho) for lag, rho in zip(lags, rhos, strict=True)]
        neuron = ClopathAdEx(b=0.0805 * pA, V_T_max=30.4 * mV, V_reset=-49.6 * mV)
        a, b = clopath_side_by_side(ClopathSTDP(delay=4 * ms, w_max=100.0), neuron, trains)
        lines = [f"clopath vs clopath_synapse (aeif_psc_delta_clopath), seed {seed}, paper's scale (%)",
                 f"{'lag ms':>7} {'rate Hz':>8} {'NEST':>9} {'brainlearn':>11}"]
        lines += [f"{lag:>+7.1f} {rho:>8.2f} {x:>9.3f} {y:>11.3f}"
                  for lag, rho, x, y in zip(lags, rhos, a, b, strict=True)]
        largest = float(np.max(np.abs(a - b)))
        lines.append(f"largest difference {largest:.3f} points")
        return "\n".join(lines), largest, f"{k} pairings, points on the paper's scale"
    from brainlearn.plasticity import replay

    if name not in NEST_RULES:
        raise ValueError(f"unknown rule {name!r}; choose from {', '.join([*NEST_RULES, 'clopath'])}")
    rule, model = NEST_RULES[name]
    delay = round(float(rng.uniform(0.1, 3.0)), 1)
    pre, post = draw_trains(rng, delay)
    w0 = float(rng.uniform(0.2, 0.8)) * (rule.w_max or 1.0)
    times, nest_w = nest_weights(rule, pre, post, delay_ms=delay, w0=w0)
    pre_eff, post_eff = effective_times(pre, post, delay)
    frame = replay(rule, np.round(pre_eff, 1) * ms, np.round(post_eff, 1) * ms, w0=w0, dt=0.1 * ms)
    ours = frame.loc[frame["kind"] == "pre", "w"].to_numpy()
    rel = np.abs(ours - nest_w) / np.abs(nest_w)
    k = min(points or 20, len(times))
    lines = [f"{name} vs {model}, seed {seed}: delay {delay} ms, {pre.size} pre and {post.size} post "
             f"spikes, w0 {w0:.4f}", f"{'t ms':>9} {'NEST':>20} {'brainlearn':>20}"]
    lines += [f"{t:>9.1f} {x:>20.15f} {y:>20.15f}" for t, x, y in zip(times[:k], nest_w[:k], ours[:k],
                                                                      strict=True)]
    lines.append(f"largest relative difference over all {times.size} pre spikes {rel.max():.2e}")
    return "\n".join(lines), float(rel.max()), f"weight after each of {times.size} pre spikes, relative"
