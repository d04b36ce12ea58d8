"""The voltage rule's protocol runners: protocols as lanes of real neurons, and the voltage clamp.

:func:`run_voltage_protocol` runs protocols (:class:`brainlearn.protocols.Protocol`) with a
real postsynaptic neuron per protocol (one lane each, all in one Brian2 run, through
:func:`brainlearn.plasticity.voltage.run_voltage_lanes`): a presynaptic spike adds
``w * epsp`` to ``v``; a postsynaptic spike is forced by a ``kick`` added to ``v`` one time
step before the requested time (NEST's example uses an 80 mV delta input).
:func:`voltage_clamp` holds ``v`` at fixed values (Clopath et al. 2010, Fig. 1h).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Hz, ms, mV, second

from brainlearn.plasticity.voltage import ClopathSTDP, check_voltage_rule, run_voltage_lanes
from brainlearn.units import check_number, check_quantity

from .gaps import unit_schedule

__all__ = ["QUIET_GAP", "VoltageRun", "run_voltage_protocol", "voltage_clamp", "normalised_weight"]

#: silence kept between the units of a protocol by the protocol engine
#: (:mod:`brainlearn.protocols.runners.gaps`): about 7 ``tau_w`` of the paper's neuron, the
#: slowest of its time constants
QUIET_GAP = 1 * second


def normalised_weight(w, w0) -> np.ndarray:
    """Clopath et al. (2010) Fig. 2 scale: ``100 + 100 * 15 * (w - w0) / w0`` (percent).

    The factor 15 turns the change after 5 pairings into the 75 pairings of the experiment.
    """
    w = np.asarray(w, dtype=float)
    return 100.0 + 100.0 * 15.0 * (w - w0) / w0


@dataclass(frozen=True)
class VoltageRun:
    """Result of :func:`run_voltage_protocol`: ``frame`` (one row per protocol) and, with
    ``record=True``, ``traces`` (arrays of shape (lanes, steps), SI units, recorded at the end
    of every step: ``t``, ``v``, ``u_minus``, ``u_plus``, ``xbar``, ``w``)."""

    frame: pd.DataFrame
    traces: dict | None = None

    def to_frame(self) -> pd.DataFrame:
        """The per-protocol table."""
        return self.frame.copy()


def run_voltage_protocol(
    rule: ClopathSTDP,
    protocols,
    w0: float = 0.5,
    *,
    neuron=None,
    dt=0.1 * ms,
    epsp=1 * mV,
    kick=80 * mV,
    settle=10 * ms,
    tail=10 * ms,
    record: bool = False,
    target: str = "numpy",
    params: dict | None = None,
    quiet_gap=None,
    dendritic_delay=0 * ms,
    timing: str = "brian",
) -> VoltageRun:
    """Run every protocol on its own synapse onto its own neuron, all in one Brian2 run.

    Parameters
    ----------
    rule : ClopathSTDP
        A rule that reads the membrane potential.
    protocols : list of Protocol
        Spike patterns (``brainlearn.protocols.Protocol``); each gets a lane.
    w0 : float
        Initial weight (0.5 as in NEST's example).
    neuron : NeuronModel, optional
        Postsynaptic model (default ``ClopathAdEx()``); needs ``v`` in volts.
    dt : Quantity
        Time step (0.1 ms, NEST's resolution in its Clopath test); spike times are rounded to
        the nearest step (as NEST does; e.g. 30 Hz pairs land 33.3 ms apart).
    epsp : Quantity
        Jump of ``v`` per unit weight at a presynaptic spike (NEST's delta synapse: 1 mV).
    kick : Quantity
        Jump of ``v`` one step before each requested postsynaptic spike.
    settle : Quantity
        Time before the first unit starts (the neuron starts at rest).
    tail : Quantity
        Time simulated after the last spike.
    record : bool
        Also return the traces of every lane at every step.
    target : str
        Brian2 code generation target (``numpy`` or ``cython``).
    params : dict, optional
        ``{name: K values in SI units}``: synapse parameters of the rule (``A_LTD``, ``A_LTP``,
        ``theta_minus``, ``theta_plus``, ``tau_x``) varied side by side; the lanes are then
        ``K * len(protocols)`` (set-major) and the frame has a ``set`` column.
    quiet_gap : Quantity, optional
        Shorten the silence between a protocol's units to this (:mod:`brainlearn.protocols.runners.gaps`): the
        neuron, filters and trace relax to rest in between, and at rest (``v = E_L =
        theta_minus`` for the paper's parameters) neither term acts, so the result changes
        by the relaxation left over, of order ``exp(-quiet_gap / tau_w)`` (1 s: 1e-3 of the
        adaptation current). ``None`` (default) simulates every protocol as it is.
    dendritic_delay : Quantity
        NEST's synaptic delay, which NEST counts as dendritic: the EPSP of a presynaptic
        spike at ``t`` reaches the soma at ``t + dendritic_delay`` and its plasticity (LTD, the
        jump of ``xbar``) reads the soma's history at ``t - dendritic_delay``. 0 (default):
        both at ``t``.
    timing : {"brian", "nest"}
        ``"nest"``: inputs (kicks, EPSPs) land after the step's integration and before its
        threshold test, are ignored during the spike clamp, and the clamp ends as in NEST's
        ``aeif_psc_delta_clopath`` (``ClopathAdEx.group(clamp="nest")``); needs a
        ``dendritic_delay`` of at least one step. ``"brian"`` (default): inputs in the
        synapses slot after the threshold test, a kick one step before the requested spike.

    Returns
    -------
    VoltageRun
        ``frame`` with ``name``, ``w_before``, ``w_after``, ``dw``, ``w_last_pre`` (the weight
        right after the last presynaptic spike, what NEST's weight recorder reports), ``n_pre``,
        ``n_post`` (requested) and ``n_post_fired``.
    """
    check_voltage_rule(rule)
    protocols = list(protocols)
    if not protocols:
        raise ValueError("protocols is empty: pass at least one Protocol")
    w0 = check_number("w0", w0)
    check_quantity("dt", dt, ms)
    check_quantity("settle", settle, ms)
    check_quantity("tail", tail, ms)
    dt_s = float(dt / second)
    start = int(round(float(settle / second) / dt_s))
    if start < 1:
        raise ValueError(f"settle must be at least one step (dt={dt}), got {settle!r}")
    free = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in (params or {}).items()}
    n_sets = len(next(iter(free.values()))) if free else 1
    if any(v.size != n_sets for v in free.values()):
        raise ValueError("every entry of params needs the same number of values")
    n_p = len(protocols)
    n = n_sets * n_p
    pre_i, pre_t, post_i, post_t = [], [], [], []
    for s in range(n_sets):
        for k, p in enumerate(protocols):
            sched = unit_schedule(p, quiet_gap)
            for arr, idx, out in ((sched.pre, pre_i, pre_t), (sched.post, post_i, post_t)):
                idx.append(np.full(arr.size, s * n_p + k))
                out.append(np.round(arr / dt_s).astype(np.int64) + start)
    pre_i, pre_t = np.concatenate(pre_i).astype(int), np.concatenate(pre_t)
    post_i, post_t = np.concatenate(post_i).astype(int), np.concatenate(post_t)
    last = int(max(pre_t.max(initial=0), post_t.max(initial=0)))
    n_steps = last + 1 + int(round(float(tail / second) / dt_s))
    lanes = run_voltage_lanes(rule, n, (pre_i, pre_t), (post_i, post_t), n_steps, w0, neuron=neuron, dt=dt,
                              epsp=epsp, kick=kick, record=record, target=target,
                              params={k: np.repeat(v, n_p) for k, v in free.items()},
                              dendritic_delay=dendritic_delay, timing=timing)
    traces = None if lanes.traces is None else {**lanes.traces, "start_step": start}
    frame = pd.DataFrame({
        "set": np.repeat(np.arange(n_sets), n_p),
        "name": [p.name for p in protocols] * n_sets,
        "w_before": np.full(n, w0),
        "w_after": lanes.w,
        "dw": lanes.w / w0 - 1.0,
        "w_last_pre": lanes.w_last_pre,
        "n_pre": [p.repetitions * len(p.pre) for p in protocols] * n_sets,
        "n_post": [p.repetitions * len(p.post) for p in protocols] * n_sets,
        "n_post_fired": lanes.fired,
    })
    return VoltageRun(frame if free else frame.drop(columns="set"), traces)


def voltage_clamp(rule: ClopathSTDP, voltages, n_pre: int = 50, rate=10 * Hz, w0: float = 0.5,
                  dt=0.1 * ms, target: str = "numpy") -> pd.DataFrame:
    """The voltage-clamp experiment (Clopath et al. 2010 Fig. 1h; Artola et al. 1990).

    The postsynaptic potential is held at each of ``voltages`` (one lane per value, filters
    started at the clamp value) while ``n_pre`` presynaptic spikes arrive at ``rate``. With
    ``v = u_minus = u_plus = V`` the rule gives, per presynaptic spike (``xbar`` integrates to
    1 per spike)::

        dw = -A_LTD [V - theta_minus]_+ + A_LTP [V - theta_plus]_+ [V - theta_minus]_+

    (no LTP tail is cut off: the run lasts 10 ``tau_x`` past the last spike).

    Returns
    -------
    pandas.DataFrame
        ``v_mV``, ``w_before``, ``w_after``, ``dw`` (``w_after / w_before - 1``).
    """
    from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, Synapses, prefs

    check_voltage_rule(rule)
    check_quantity("voltages", voltages, mV, allow_array=True)
    check_quantity("rate", rate, Hz)
    check_quantity("dt", dt, ms)
    v = np.atleast_1d(np.asarray(voltages / mV, dtype=float))
    n = v.size
    period = int(round(float(1 / rate / dt)))
    steps = 1 + np.arange(int(n_pre)) * period
    n_steps = int(steps[-1] + round(float(10 * rule.tau_x / dt)) + 1)
    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        post = NeuronGroup(n, "v : volt" + rule.post_equations(dt), namespace=rule.post_namespace(),
                           method="exact", dt=dt, name="clamp_post*")
        post.v = v * mV
        rule.start_filters(post, dt)
        objects = [post]
        shift = rule.shift_code(dt)
        if shift:
            objects.append(post.run_regularly(shift, when="end", order=1))
        idx = np.repeat(np.arange(n), steps.size)
        times = np.tile(steps, n) * dt
        pre = SpikeGeneratorGroup(n, idx, times, dt=dt)
        code = rule.render(dt=dt)
        syn = Synapses(pre, post, model=code.model, on_pre=code.on_pre, namespace=dict(code.namespace),
                       method="exact", dt=dt)
        syn.connect(j="i")
        syn.w = w0
        ltp = syn.run_regularly(rule.ltp_code(dt), when="end", order=0)
        objects += [pre, syn, ltp]
        Network(*objects).run(n_steps * dt, namespace={})
        w = np.asarray(syn.w[:], dtype=float)
    finally:
        prefs.codegen.target = old
    return pd.DataFrame({"v_mV": v, "w_before": w0, "w_after": w, "dw": w / w0 - 1.0})
