"""Voltage-based STDP (Clopath et al. 2010, Nat Neurosci 13:344) and its voltage-driven runner.

The rule reads the postsynaptic membrane potential ``v`` and two low-pass filtered copies of
it, which live on the postsynaptic ``NeuronGroup`` (:meth:`ClopathSTDP.post_equations`)::

    tau_minus du_minus/dt = v - u_minus          tau_plus du_plus/dt = v - u_plus
    tau_x dxbar/dt = -xbar,   xbar += 1 / tau_x at each presynaptic spike
    LTD, at each presynaptic spike:  w -= A_LTD [u_minus(t - D) - theta_minus]_+
    LTP, every time step:            w += A_LTP xbar [v - theta_plus]_+ [u_plus(t - D) - theta_minus]_+ dt

with hard bounds ``w_min <= w <= w_max`` after every change and ``[x]_+ = max(x, 0)``.
``D`` (``delay``) is the delay with which the authors' MATLAB code (ModelDB 144566) and NEST's
``clopath_synapse`` read the filtered potentials; it is a shift register of ``D / dt`` steps on
the neuron. ``A_LTD`` is constant (the paper's homeostatic factor ``u_bar_bar^2 / u_ref^2`` is
left out, as in NEST's default and the paper's pairing experiments).

:func:`run_voltage_protocol` runs protocols (``brainlearn.protocols.Protocol``) with a real
postsynaptic neuron per protocol (one lane each, all in one Brian2 run): a presynaptic spike
adds ``w * epsp`` to ``v``; a postsynaptic spike is forced by a ``kick`` added to ``v`` one
time step before the requested time (NEST's example uses an 80 mV delta input).
:func:`voltage_clamp` holds ``v`` at fixed values (the paper's voltage-clamp figure).

Order inside one time step (Brian2 schedule): end of the spike clamp (``before_groups``),
Euler update of the neuron and of the filters (from the old ``v``), exact decay of ``xbar``,
threshold, presynaptic pathway (EPSP, LTD with the delayed ``u_minus``, ``xbar`` jump) and
kicks (inputs to ``v`` are ignored while the spike clamp lasts, as in NEST), reset, then in ``end`` the LTP step (with ``v`` after the reset) and the shift of the
delay registers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Hz, Quantity, ms, mV, second

from brainlearn.gaps import unit_schedule
from brainlearn.plasticity import PlasticityRule, SynapseCode
from brainlearn.units import NUMBER, check_number, check_quantity, qfield, si_unit

__all__ = ["QUIET_GAP", "ClopathSTDP", "replay_voltage", "CLOPATH_PRESETS", "VoltageRun", "run_voltage_protocol", "voltage_clamp",
           "normalised_weight"]

#: Clopath et al. (2010) Table 1: fits to visual cortex (Sjostrom 2001) and hippocampus.
CLOPATH_PRESETS: dict[str, dict] = {
    "visual-cortex": dict(
        A_LTD=14e-5 / mV, A_LTP=8e-5 / mV**2, theta_minus=-70.6 * mV, theta_plus=-45.3 * mV,
        tau_x=15 * ms, tau_minus=10 * ms, tau_plus=7 * ms,
    ),
    # Table 1b, hippocampal column. A_LTD, A_LTP, theta_minus, theta_plus as in the voltage-clamp
    # script of Larisch's ReScience replication (0.00038, 0.00002, -41, -38); A_LTD, the thetas
    # and tau_x = 16 ms as in Coleman's bain Clopath2010SynapseConfiguration (whose A_LTP column
    # is 100x the paper's in every row: 8e-3 for the visual 8e-5). tau_minus, tau_plus (6, 5 ms)
    # are NOT confirmed: bain lists 6/5 ms for the somatosensory column and 1/1 ms for this one;
    # the voltage clamp (the hippocampal data the set was fitted to) does not depend on them.
    "hippocampal": dict(
        A_LTD=38e-5 / mV, A_LTP=2e-5 / mV**2, theta_minus=-41 * mV, theta_plus=-38 * mV,
        tau_x=16 * ms, tau_minus=6 * ms, tau_plus=5 * ms,
    ),
}

#: silence kept between the units of a protocol by the protocol engine (``brainlearn.gaps``):
#: about 7 ``tau_w`` of the paper's neuron, the slowest of its time constants
QUIET_GAP = 1 * second


@dataclass(frozen=True)
class ClopathSTDP(PlasticityRule):
    """Voltage-based STDP of Clopath et al. (2010): see the module docstring for the equations.

    Parameters
    ----------
    A_LTD : Quantity
        Depression amplitude (1/mV; 14e-5 / mV for visual cortex).
    A_LTP : Quantity
        Potentiation amplitude (1/mV**2; 8e-5 / mV**2).
    theta_minus, theta_plus : Quantity
        Thresholds of the filtered potentials and of ``v`` (-70.6 mV, -45.3 mV).
    tau_x, tau_minus, tau_plus : Quantity
        Time constants of the presynaptic trace and of the two filters (15, 10, 7 ms).
    delay : Quantity
        Delay of the filtered potentials (4 ms, as NEST's reproduction of the paper's figure;
        NEST's default is 5 ms; 0 ms: none). It is in the authors' code, not in the paper, and
        it matters: without it the 2 ms spike lifts ``u_plus`` while ``v`` is still high and
        +10 ms pairs at 0.1 Hz potentiate strongly (184 % instead of 101 % on the paper's
        scale), against the data. Must be a multiple of the simulation step.
    w_min, w_max : float
        Hard bounds (``w_max=None``: none above).
    """

    A_LTD: Quantity = qfield(14e-5 / mV)
    A_LTP: Quantity = qfield(8e-5 / mV**2)
    theta_minus: Quantity = qfield(-70.6 * mV)
    theta_plus: Quantity = qfield(-45.3 * mV)
    tau_x: Quantity = qfield(15 * ms)
    tau_minus: Quantity = qfield(10 * ms)
    tau_plus: Quantity = qfield(7 * ms)
    delay: Quantity = qfield(4 * ms)
    w_min: float = 0.0
    w_max: float | None = 3.0

    _units = {
        "A_LTD": 1 / mV, "A_LTP": 1 / mV**2, "theta_minus": mV, "theta_plus": mV, "tau_x": ms,
        "tau_minus": ms, "tau_plus": ms, "delay": ms, "w_min": NUMBER, "w_max": NUMBER,
    }

    #: the rule needs a neuron with a membrane potential ``v`` (no imposed post spikes)
    needs_voltage = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.delay < 0 * ms:
            raise ValueError(f"delay must be a non-negative time in ms, got {self.delay!r}")

    @classmethod
    def preset(cls, name: str, **overrides) -> ClopathSTDP:
        """``visual-cortex`` or ``hippocampal`` parameters of the paper's Table 1."""
        if name not in CLOPATH_PRESETS:
            raise ValueError(f"unknown Clopath preset {name!r}; choose from {sorted(CLOPATH_PRESETS)}")
        return cls(**{**CLOPATH_PRESETS[name], **overrides})

    # ------------------------------------------------------------------ rendering
    def delay_steps(self, dt) -> int:
        """``delay / dt`` (an error when the delay is not on the grid)."""
        k = float(self.delay / dt)
        if abs(k - round(k)) > 1e-6:
            raise ValueError(f"delay {self.delay!r} is not a multiple of dt={dt}; pass a dt that divides it")
        return int(round(k))

    def delayed_names(self, dt) -> tuple[str, str]:
        """Names of the delayed ``u_minus`` and ``u_plus`` on the post group."""
        k = self.delay_steps(dt)
        return ("u_minus", "u_plus") if k == 0 else (f"u_minus_d{k}", f"u_plus_d{k}")

    def post_equations(self, dt) -> str:
        """Equations to add to the postsynaptic group (filters and delay registers)."""
        lines = ["du_minus/dt = (v - u_minus) / tau_minus : volt", "du_plus/dt = (v - u_plus) / tau_plus : volt"]
        for k in range(1, self.delay_steps(dt) + 1):
            lines += [f"u_minus_d{k} : volt", f"u_plus_d{k} : volt"]
        return "\n" + "\n".join(lines) + "\n"

    def start_filters(self, group, dt=None) -> None:
        """Start the filters and delay registers of ``group`` at its present ``v``."""
        v = group.v[:]
        group.u_minus = v
        group.u_plus = v
        for k in range(1, self.delay_steps(dt if dt is not None else group.clock.dt) + 1):
            setattr(group, f"u_minus_d{k}", v)
            setattr(group, f"u_plus_d{k}", v)

    def post_namespace(self) -> dict:
        """Names the post group's added equations use."""
        return {"tau_minus": self.tau_minus, "tau_plus": self.tau_plus}

    def shift_code(self, dt) -> str:
        """Code (post group, end of each step) that moves the delay registers on by one step."""
        k = self.delay_steps(dt)
        lines = []
        for j in range(k, 1, -1):
            lines += [f"u_minus_d{j} = u_minus_d{j - 1}", f"u_plus_d{j} = u_plus_d{j - 1}"]
        if k:
            lines += ["u_minus_d1 = u_minus", "u_plus_d1 = u_plus"]
        return "\n".join(lines)

    def ltp_code(self, dt) -> str:
        """The LTP step (synapses, end of each time step)."""
        _, up = self.delayed_names(dt)
        return self._clip(
            f"w + A_LTP * xbar * dt * clip(v_post - theta_plus, 0*mV, inf*mV)"
            f" * clip({up}_post - theta_minus, 0*mV, inf*mV)"
        )

    def render(self, on_pre_effect: str = "", dt=0.1 * ms) -> SynapseCode:
        """Synapse code: ``model``, ``on_pre`` (EPSP, LTD, ``xbar`` jump), no ``on_post``.

        The LTP step (:meth:`ltp_code`) and the post group's equations
        (:meth:`post_equations`, :meth:`shift_code`) are run alongside.
        """
        um, _ = self.delayed_names(dt)
        model = "w : 1\ndxbar/dt = -xbar / tau_x : Hz (clock-driven)"
        on_pre = "\n".join(line for line in (
            on_pre_effect,
            self._clip(f"w - A_LTD * clip({um}_post - theta_minus, 0*mV, inf*mV)"),
            "xbar += 1 / tau_x",
        ) if line)
        return SynapseCode(model, on_pre, "", self.namespace())


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


def _default_neuron(neuron):
    if neuron is None:
        from brainlearn.neurons import ClopathAdEx

        return ClopathAdEx()
    return neuron


def _check_rule(rule) -> None:
    if not getattr(rule, "needs_voltage", False):
        raise ValueError(f"{type(rule).__name__} does not read the membrane potential; "
                         "use brainlearn.protocols.run_protocol")


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
        Shorten the silence between a protocol's units to this (``brainlearn.gaps``): the
        neuron, filters and trace relax to rest in between, and at rest (``v = E_L =
        theta_minus`` for the paper's parameters) neither term acts, so the result changes
        by the relaxation left over, of order ``exp(-quiet_gap / tau_w)`` (1 s: 1e-3 of the
        adaptation current). ``None`` (default) simulates every protocol as it is.

    Returns
    -------
    VoltageRun
        ``frame`` with ``name``, ``w_before``, ``w_after``, ``dw``, ``w_last_pre`` (the weight
        right after the last presynaptic spike, what NEST's weight recorder reports), ``n_pre``,
        ``n_post`` (requested) and ``n_post_fired``.
    """
    from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, Synapses, prefs

    _check_rule(rule)
    protocols = list(protocols)
    if not protocols:
        raise ValueError("protocols is empty: pass at least one Protocol")
    w0 = check_number("w0", w0)
    check_quantity("dt", dt, ms)
    check_quantity("epsp", epsp, mV)
    check_quantity("kick", kick, mV)
    check_quantity("settle", settle, ms)
    check_quantity("tail", tail, ms)
    neuron = _default_neuron(neuron)
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
            pre, post = sched.pre, sched.post
            for arr, idx, out in ((pre, pre_i, pre_t), (post, post_i, post_t)):
                idx.append(np.full(arr.size, s * n_p + k))
                out.append(np.round(arr / dt_s).astype(np.int64) + start)
    pre_i, pre_t = np.concatenate(pre_i).astype(int), np.concatenate(pre_t)
    post_i, post_t = np.concatenate(post_i).astype(int), np.concatenate(post_t)
    last = int(max(pre_t.max(initial=0), post_t.max(initial=0)))
    n_steps = last + 1 + int(round(float(tail / second) / dt_s))

    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        post = neuron.group(n, dt=dt, name="voltage_post*", extra_equations=rule.post_equations(dt),
                            namespace=rule.post_namespace())
        rule.start_filters(post)
        shift = rule.shift_code(dt)
        objects = [post]
        if shift:
            objects.append(post.run_regularly(shift, when="end", order=1, name="voltage_shift*"))
        pre_group = SpikeGeneratorGroup(n, pre_i, pre_t * dt, dt=dt, name="voltage_pre*")
        driver = SpikeGeneratorGroup(n, post_i, (post_t - 1) * dt, dt=dt, name="voltage_driver*")
        kicks = Synapses(driver, post, on_pre="v_post += kick", namespace={"kick": kick}, dt=dt,
                         name="voltage_kick*", order=1)
        kicks.connect(j="i")
        code = rule.render(on_pre_effect="v_post += w * epsp", dt=dt)
        ns = dict(code.namespace, epsp=epsp)
        model = code.model + "\nw_after_spike : 1"
        units = {}
        for name in free:
            if name not in ns or name in ("w_min", "w_max", "delay", "tau_minus", "tau_plus"):
                raise ValueError(f"{name!r} cannot be varied per synapse; choose from A_LTD, A_LTP, "
                                 "theta_minus, theta_plus, tau_x")
            units[name] = si_unit(ns.pop(name))
            model += f"\n{name} : {repr(units[name]) if isinstance(units[name], Quantity) else '1'} (constant)"
        syn = Synapses(pre_group, post, model=model, on_pre=code.on_pre + "\nw_after_spike = w",
                       namespace=ns, method="exact", dt=dt, name="voltage_syn*", order=0)
        syn.connect(j="i")
        for name, values in free.items():
            setattr(syn, name, np.repeat(values, n_p) * units[name])
        syn.w = w0
        syn.w_after_spike = w0
        ltp = syn.run_regularly(rule.ltp_code(dt), when="end", order=0, name="voltage_ltp*")
        spikes = SpikeMonitor(post, name="voltage_spikes*")
        objects += [pre_group, driver, kicks, syn, ltp, spikes]
        mons = []
        if record:
            mons = [StateMonitor(post, ["v", "u_minus", "u_plus"], record=True, when="end", order=2, dt=dt),
                    StateMonitor(syn, ["xbar", "w"], record=True, when="end", order=2, dt=dt)]
            objects += mons
        Network(*objects).run(n_steps * dt, namespace={})
        w = np.asarray(syn.w[:], dtype=float)
        w_last_pre = np.asarray(syn.w_after_spike[:], dtype=float)
        fired = np.bincount(np.asarray(spikes.i[:]), minlength=n)
        traces = None
        if record:
            traces = {
                "t": np.asarray(mons[0].t / second),
                "v": np.asarray(mons[0].v / mV) * 1e-3,
                "u_minus": np.asarray(mons[0].u_minus / mV) * 1e-3,
                "u_plus": np.asarray(mons[0].u_plus / mV) * 1e-3,
                "xbar": np.asarray(mons[1].xbar / Hz),
                "w": np.asarray(mons[1].w),
                "start_step": start,
                "spike_t": np.asarray(spikes.t / second),
            }
    finally:
        prefs.codegen.target = old
    frame = pd.DataFrame({
        "set": np.repeat(np.arange(n_sets), n_p),
        "name": [p.name for p in protocols] * n_sets,
        "w_before": np.full(n, w0),
        "w_after": w,
        "dw": w / w0 - 1.0,
        "w_last_pre": w_last_pre,
        "n_pre": [p.repetitions * len(p.pre) for p in protocols] * n_sets,
        "n_post": [p.repetitions * len(p.post) for p in protocols] * n_sets,
        "n_post_fired": fired,
    })
    return VoltageRun(frame if free else frame.drop(columns="set"), traces)


@dataclass(frozen=True)
class _Trains:
    """Spike trains given once (what ``run_voltage_protocol`` reads of a protocol)."""

    pre: Quantity
    post: Quantity
    name: str = "replay"
    repetitions: int = 1
    period: Quantity = qfield(1 * second)

    def spike_times(self):
        return np.asarray(self.pre / second, dtype=float), np.asarray(self.post / second, dtype=float)


def replay_voltage(rule: ClopathSTDP, pre_times, post_times, w0: float = 0.5, dt=0.1 * ms, *,
                   neuron=None, epsp=1 * mV, kick=80 * mV, target: str = "numpy") -> pd.DataFrame:
    """``brainlearn.plasticity.replay`` for a rule that reads the membrane potential.

    The synapse drives its own neuron (default ``ClopathAdEx()``, at rest at ``t = 0``): a
    presynaptic spike adds ``w * epsp`` to ``v``, a postsynaptic spike is forced by ``kick``
    one step before each time of ``post_times`` (as :func:`run_voltage_protocol`, which runs
    it one step later so that a post spike at ``t = 0`` has its kick).

    Returns
    -------
    pandas.DataFrame
        One row per spike event in time order (``pre`` before ``post`` in one step): ``t``
        (seconds), ``kind``, ``w`` (the weight at the end of the event's time step: the LTP
        term acts in every step, so there is no weight "right after" a spike as for the pair
        rules) and ``fired`` (for ``post`` rows: whether the neuron spiked in that step; a
        kick during the 2 ms spike clamp of an earlier spike is ignored, as in NEST).
    """
    check_quantity("dt", dt, ms)
    pre = np.sort(np.atleast_1d(np.asarray(check_quantity("pre_times", pre_times, second, allow_array=True)
                                           / second, dtype=float)))
    post = np.sort(np.atleast_1d(np.asarray(check_quantity("post_times", post_times, second, allow_array=True)
                                            / second, dtype=float)))
    dt_s = float(dt / second)
    run = run_voltage_protocol(rule, [_Trains(pre * second, post * second)], w0=w0, neuron=neuron, dt=dt,
                               epsp=epsp, kick=kick, settle=dt, record=True, target=target)
    w = run.traces["w"][0]
    start = run.traces["start_step"]
    spikes = np.round(run.traces["spike_t"] / dt_s).astype(np.int64) - start
    steps = np.r_[np.round(pre / dt_s), np.round(post / dt_s)].astype(np.int64)
    frame = pd.DataFrame({"step": steps, "order": np.r_[np.zeros(pre.size, int), np.ones(post.size, int)]})
    frame = frame.sort_values(["step", "order"], kind="stable").reset_index(drop=True)
    frame["t"] = frame["step"] * dt_s
    frame["kind"] = np.where(frame["order"] == 0, "pre", "post")
    frame["w"] = w[frame["step"].to_numpy() + start]
    frame["fired"] = (frame["order"] == 1) & frame["step"].isin(spikes)
    return frame[["t", "kind", "w", "fired"]]


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

    _check_rule(rule)
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
