"""The protocol engine: spike patterns repeated in time, all evaluated in ONE Brian2 run.

A :class:`Protocol` is one unit of pre and post spike times (relative to the unit's start)
repeated ``repetitions`` times every ``period``. :func:`run_protocol` gives every protocol its
own independent synapse (one pre cell, one post cell, ``connect(j='i')``), runs them together
and returns one row per protocol. Traces are event-driven (exact), so with imposed spikes the
time step only has to put the spikes on the grid: by default it is the greatest common divisor
of all spike times (e.g. 5 ms for the Sjostrom sweep), which keeps long protocols cheap.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field
from functools import reduce

import numpy as np
import pandas as pd
from brian2 import Hz, Quantity, ms, second

from brainlearn.plasticity import PlasticityRule
from brainlearn.units import check_number, check_quantity, si_unit

__all__ = ["Protocol", "run_protocol", "auto_dt", "PopulationRun"]

#: spike times are rounded to this quantum (seconds) before the grid is computed
_QUANTUM_S = 1e-6


def _times(name: str, value) -> np.ndarray:
    """Spike times as a sorted 1-D float array in seconds (accepts lists of quantities)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            return np.zeros(0)
        try:
            value = Quantity(value)
        except Exception as exc:  # mixed units or plain numbers
            raise ValueError(f"{name} must be a list of Brian2 times (e.g. [0*ms, 10*ms]): {exc}") from None
    if isinstance(value, np.ndarray) and not isinstance(value, Quantity) and value.size == 0:
        return np.zeros(0)
    check_quantity(name, value, second, allow_array=True)
    arr = np.atleast_1d(np.asarray(value / second, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D list of times, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} are times relative to the unit's start and must be >= 0, got {value!r}")
    return np.sort(arr)


@dataclass(frozen=True)
class Protocol:
    """One unit of pre/post spike times repeated ``repetitions`` times every ``period``.

    Parameters
    ----------
    pre, post : list or Quantity
        Spike times of the presynaptic and postsynaptic cell, relative to the start of the
        unit (``>= 0``), e.g. ``[0*ms]`` and ``[10*ms]``.
    repetitions : int
        How often the unit is played.
    period : Quantity
        Time from the start of one unit to the start of the next (longer than the unit).
    name : str, optional
        Label of the protocol (a description is made up when omitted).
    """

    pre: object
    post: object
    repetitions: int = 1
    period: Quantity = field(default_factory=lambda: 1 * second)
    name: str | None = None

    def __post_init__(self) -> None:
        pre, post = _times("pre", self.pre), _times("post", self.post)
        object.__setattr__(self, "pre", pre * second)
        object.__setattr__(self, "post", post * second)
        if int(self.repetitions) != self.repetitions or self.repetitions < 1:
            raise ValueError(f"repetitions must be a positive integer, got {self.repetitions!r}")
        object.__setattr__(self, "repetitions", int(self.repetitions))
        check_quantity("period", self.period, second)
        if float(self.period / second) <= 0:
            raise ValueError(f"period must be positive, got {self.period!r}")
        last = max(pre.max(initial=0.0), post.max(initial=0.0))
        if self.repetitions > 1 and last >= float(self.period / second) - 1e-12:
            raise ValueError(
                f"the unit lasts {last * 1e3:g} ms, longer than its period {self.period!r}; "
                "use a longer period"
            )
        if np.unique(pre).size != pre.size or np.unique(post).size != post.size:
            raise ValueError("a cell has two spikes at the same time in one unit")
        if self.name is None:
            object.__setattr__(self, "name", self.describe())

    # ----------------------------------------------------------------- description
    def describe(self) -> str:
        """A short text such as ``pre[0] post[10] ms x60 / 1000 ms``."""

        def fmt(a):
            return ",".join(f"{x:g}" for x in np.asarray(a / ms))

        return (
            f"pre[{fmt(self.pre)}] post[{fmt(self.post)}] ms "
            f"x{self.repetitions} / {float(self.period / ms):g} ms"
        )

    @property
    def duration(self) -> Quantity:
        """Time from the first unit's start to the last spike."""
        last = max(np.max(self.pre / second, initial=0.0), np.max(self.post / second, initial=0.0))
        return ((self.repetitions - 1) * float(self.period / second) + last) * second

    def spike_times(self) -> tuple[np.ndarray, np.ndarray]:
        """All pre and post spike times (seconds, float arrays) of the repeated protocol."""
        starts = np.arange(self.repetitions) * float(self.period / second)
        pre = (starts[:, None] + np.asarray(self.pre / second)[None, :]).ravel()
        post = (starts[:, None] + np.asarray(self.post / second)[None, :]).ravel()
        return np.sort(pre), np.sort(post)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def pairing(cls, dt, repetitions: int = 60, frequency=1 * Hz, name: str | None = None) -> Protocol:
        """Pre/post pairs with ``dt = t_post - t_pre`` (Bi & Poo 1998: 60 pairs at 1 Hz)."""
        check_quantity("dt", dt, ms)
        check_quantity("frequency", frequency, Hz)
        d = float(dt / second)
        pre, post = ([0.0], [d]) if d >= 0 else ([-d], [0.0])
        return cls(np.array(pre) * second, np.array(post) * second, repetitions, 1 / frequency, name)

    @classmethod
    def burst_pairing(
        cls, dt, rho, pairs: int = 5, bursts: int = 15, burst_period=10 * second, name: str | None = None
    ) -> Protocol:
        """Bursts of ``pairs`` pairs at frequency ``rho`` (Sjostrom 2001: 5 pairs, 15 bursts 10 s apart)."""
        check_quantity("dt", dt, ms)
        check_quantity("rho", rho, Hz)
        d, step = float(dt / second), float(1 / rho / second)
        starts = np.arange(int(pairs)) * step
        pre, post = (starts, starts + d) if d >= 0 else (starts - d, starts)
        return cls(pre * second, post * second, bursts, burst_period, name)

    @classmethod
    def triplet(
        cls, kind: str, dt1, dt2, repetitions: int = 60, frequency=1 * Hz, name: str | None = None
    ) -> Protocol:
        """Triplets (Wang et al. 2005; Pfister & Gerstner 2006).

        ``kind="pre-post-pre"``: pre at 0, post at ``dt1``, pre at ``dt1 + dt2``;
        ``kind="post-pre-post"``: post at 0, pre at ``dt1``, post at ``dt1 + dt2`` (intervals >= 0).
        """
        a, b = float(check_quantity("dt1", dt1, ms) / second), float(check_quantity("dt2", dt2, ms) / second)
        if a < 0 or b < 0:
            raise ValueError(f"triplet intervals must be >= 0, got dt1={dt1!r}, dt2={dt2!r}")
        if kind == "pre-post-pre":
            pre, post = [0.0, a + b], [a]
        elif kind == "post-pre-post":
            pre, post = [a], [0.0, a + b]
        else:
            raise ValueError(f"kind must be 'pre-post-pre' or 'post-pre-post', got {kind!r}")
        return cls(np.array(pre) * second, np.array(post) * second, repetitions, 1 / frequency, name)

    @classmethod
    def quadruplet(
        cls, T, dt=5 * ms, repetitions: int = 60, frequency=1 * Hz, name: str | None = None
    ) -> Protocol:
        """Quadruplets (Wang et al. 2005): a post-pre pair (``-dt``) and a pre-post pair (``+dt``)
        whose centres are ``T`` apart; ``T > 0``: post-pre first, ``T < 0``: pre-post first."""
        t, d = float(check_quantity("T", T, ms) / second), float(check_quantity("dt", dt, ms) / second)
        c1, c2 = (0.0, t) if t >= 0 else (-t, 0.0)  # centre of the post-pre and the pre-post pair
        pre = np.array([c1 + d / 2, c2 - d / 2])
        post = np.array([c1 - d / 2, c2 + d / 2])
        shift = -min(pre.min(), post.min())
        return cls((pre + shift) * second, (post + shift) * second, repetitions, 1 / frequency, name)

    @classmethod
    def post_burst(
        cls, n_post: int, rate, delay, repetitions: int = 60, frequency=0.1 * Hz, pre_after_last: bool = False,
        name: str | None = None,
    ) -> Protocol:
        """One pre spike and a burst of ``n_post`` post spikes at ``rate``.

        ``delay`` is ``t_first_post - t_pre`` (negative: the burst starts before the pre spike);
        with ``pre_after_last=True`` the pre spike comes ``delay`` after the *last* post spike
        (post-burst-then-pre, as in Nevian & Sakmann 2006).
        """
        check_quantity("rate", rate, Hz)
        d = float(check_quantity("delay", delay, ms) / second)
        post = np.arange(int(n_post)) * float(1 / rate / second)
        pre = np.array([post[-1] + d]) if pre_after_last else np.array([-d])
        shift = -min(pre.min(), post.min())
        return cls((pre + shift) * second, (post + shift) * second, repetitions, 1 / frequency, name)


# ---------------------------------------------------------------------- the grid
def auto_dt(protocols: list[Protocol], max_dt=None):
    """The coarsest time step that puts every spike of ``protocols`` on the grid.

    The greatest common divisor of all relative spike times and periods (rounded to 1 us),
    at most ``max_dt`` when given.
    """
    ints = []
    for p in protocols:
        for arr in (p.pre / second, p.post / second, [p.period / second]):
            ints.extend(int(round(float(x) / _QUANTUM_S)) for x in np.atleast_1d(arr))
    g = reduce(math.gcd, ints, 0)
    dt_s = g * _QUANTUM_S if g > 0 else 1e-3
    if max_dt is not None:
        m = float(max_dt / second)
        if dt_s > m:
            # largest divisor of g not above max_dt keeps the spikes on the grid
            k = math.ceil(dt_s / m)
            while g % k:
                k += 1
            dt_s = g / k * _QUANTUM_S
    return dt_s * second


# -------------------------------------------------------------- network building
def _unit_string(value) -> str:
    unit = si_unit(value)
    return repr(unit) if isinstance(unit, Quantity) else "1"


@dataclass
class _Built:
    objects: list
    syn: object
    n_steps: int
    dt: Quantity
    post_mon: object | None


def _build(rule: PlasticityRule, protocols: list[Protocol], n_sets: int, free: dict, w0, dt, drive, neuron):
    """Create the Brian2 objects: ``n_sets * len(protocols)`` synapses, set-major order."""
    from brian2 import NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, Synapses

    code = rule.render(dt=dt)
    namespace = dict(code.namespace)
    model = code.model
    synapse_code = "\n".join((code.model, code.on_pre, code.on_post))
    used = {name for name in namespace if re.search(rf"\b{name}\b", synapse_code)}
    for name in free:
        if name not in used:
            raise ValueError(f"{name!r} is not a parameter of {type(rule).__name__} that can be varied "
                             f"per synapse; choose from {sorted(used)}")
        namespace.pop(name)
        model += f"\n{name} : {_unit_string(rule.params()[name])} (constant)"
    n_p = len(protocols)
    n = n_sets * n_p
    dt_s = float(dt / second)
    # drivers fire one step early: a model neuron (neuron mode), or a relay group holding
    # the rule's post-synaptic state (imposed spikes, rules with ``post_model``)
    relay = drive == "imposed" and bool(code.post_model)
    offset = 1 if drive == "neuron" or relay else 0
    pre_i, pre_t, post_i, post_t = [], [], [], []
    for k, p in enumerate(protocols):
        pre, post = p.spike_times()
        for s in range(n_sets):
            idx = s * n_p + k
            pre_i.append(np.full(pre.size, idx))
            pre_t.append(np.round(pre / dt_s) + offset)
            post_i.append(np.full(post.size, idx))
            post_t.append(np.round(post / dt_s) + offset)
    pre_i, pre_t = np.concatenate(pre_i).astype(int), np.concatenate(pre_t)
    post_i, post_t = np.concatenate(post_i).astype(int), np.concatenate(post_t)
    n_steps = int(max(pre_t.max(initial=0), post_t.max(initial=0))) + 2
    pre_group = SpikeGeneratorGroup(n, pre_i, pre_t * dt, dt=dt, name="protocol_pre*")
    objects = [pre_group]
    post_mon = None
    if drive == "imposed" and not relay:
        post_group = SpikeGeneratorGroup(n, post_i, post_t * dt, dt=dt, name="protocol_post*")
        objects.append(post_group)
    elif relay:
        driver = SpikeGeneratorGroup(n, post_i, (post_t - 1) * dt, dt=dt, name="protocol_driver*")
        post_group = NeuronGroup(
            n, code.post_model + "\nfire : 1", threshold="fire > 0.5",
            reset="fire = 0\n" + code.post_reset, method=code.post_method,
            namespace=dict(code.post_namespace), dt=dt, name="protocol_post*",
        )
        kick = Synapses(driver, post_group, on_pre="fire_post = 1", dt=dt, name="protocol_kick*")
        kick.pre.when = "after_resets"  # after the reset that clears a spike of this step
        kick.connect(j="i")
        objects += [driver, post_group, kick]
    else:
        driver = SpikeGeneratorGroup(n, post_i, (post_t - 1) * dt, dt=dt, name="protocol_driver*")
        # a rule's post-synaptic state joins the neuron's equations, integrated its way
        extra = dict(extra_equations=code.post_model, extra_reset=code.post_reset,
                     namespace=dict(code.post_namespace), method=code.post_method) if code.post_model else {}
        post_group = neuron.group(n, dt=dt, name="protocol_neuron*", **extra)
        kick = Synapses(driver, post_group, on_pre="v_post += kick", namespace={"kick": neuron_kick(neuron)},
                        dt=dt, name="protocol_kick*")
        kick.connect(j="i")
        post_mon = SpikeMonitor(post_group, name="protocol_postmon*")
        objects += [driver, post_group, kick, post_mon]
    syn = Synapses(pre_group, post_group, model=model, on_pre=code.on_pre, on_post=code.on_post,
                   namespace=namespace, dt=dt, name="protocol_syn*")
    syn.connect(j="i")
    syn.w = w0
    for name, value in code.initial.items():
        setattr(syn, name, value)
    for name, values in free.items():
        unit = si_unit(rule.params()[name])
        setattr(syn, name, np.repeat(np.asarray(values, dtype=float), n_p) * unit)
    objects.append(syn)
    return _Built(objects, syn, n_steps, dt, post_mon)


def neuron_kick(neuron):
    """Depolarisation that makes ``neuron`` cross threshold from anywhere below it."""
    from brian2 import mV

    v_thresh = getattr(neuron, "v_thresh", None)
    low = min(getattr(neuron, "v_reset", -80 * mV), getattr(neuron, "v_rest", -80 * mV))
    if v_thresh is None or not isinstance(v_thresh, Quantity):
        raise ValueError("drive='neuron' needs a neuron model with v_thresh in volts (e.g. CurrentLIF)")
    return (v_thresh - low) + 100 * mV


def _check_common(rule, protocols, w0, drive):
    if not isinstance(rule, PlasticityRule):
        raise ValueError(f"rule must be a brainlearn.plasticity rule, got {type(rule).__name__}")
    protocols = list(protocols)
    if not protocols:
        raise ValueError("protocols is empty: pass at least one Protocol")
    for p in protocols:
        if not isinstance(p, Protocol):
            raise ValueError(f"protocols must hold Protocol objects, got {type(p).__name__}")
    if drive not in ("imposed", "neuron"):
        raise ValueError(f"drive must be 'imposed' or 'neuron', got {drive!r}")
    return protocols, check_number("w0", w0)


def _frame(protocols, n_sets, w0, w, post_counts=None):
    n_p = len(protocols)
    rows = {
        "set": np.repeat(np.arange(n_sets), n_p),
        "name": [p.name for p in protocols] * n_sets,
        "w_before": np.full(n_sets * n_p, w0),
        "w_after": w,
        "dw": w / w0 - 1.0,
        "n_pre": [p.repetitions * len(p.pre) for p in protocols] * n_sets,
        "n_post": [p.repetitions * len(p.post) for p in protocols] * n_sets,
    }
    if post_counts is not None:
        rows["n_post_fired"] = post_counts
    frame = pd.DataFrame(rows)
    return frame if n_sets > 1 else frame.drop(columns="set")


def run_protocol(
    rule: PlasticityRule,
    protocols: list[Protocol],
    w0: float = 1.0,
    *,
    dt=None,
    drive: str = "imposed",
    neuron=None,
    params: dict | None = None,
    target: str = "numpy",
) -> pd.DataFrame:
    """Run every protocol on its own synapse, all in one Brian2 run.

    Parameters
    ----------
    rule : PlasticityRule
        The learning rule (its bounds apply: pass ``w_max=None`` for fits at ``w0 = 1``).
    protocols : list of Protocol
        The protocols; each gets an independent synapse.
    w0 : float
        Initial weight of every synapse.
    dt : Quantity, optional
        Time step; default: the coarsest grid holding every spike (:func:`auto_dt`), at most
        0.1 ms with ``drive="neuron"``.
    drive : {"imposed", "neuron"}
        ``"imposed"``: post spikes come from a spike generator. ``"neuron"``: each synapse's
        post cell is a real neuron (``neuron``, default ``CurrentLIF()``) kicked above threshold
        at the requested post times; the column ``n_post_fired`` says how often it fired.
    neuron : NeuronModel, optional
        Postsynaptic model for ``drive="neuron"``.
    params : dict, optional
        Parameter sets evaluated side by side: ``{name: array of K values}`` makes the named rule
        parameters per-synapse constants; the frame then has ``K * len(protocols)`` rows with a
        ``set`` column (set-major order).
    target : str
        Brian2 code generation target for runtime mode (``"numpy"`` or ``"cython"``).

    Returns
    -------
    pandas.DataFrame
        One row per protocol in input order: ``name``, ``w_before``, ``w_after``, ``dw``
        (``w_after / w_before - 1``), ``n_pre``, ``n_post``.
    """
    from brian2 import Network, get_device, prefs
    from brian2.devices.device import RuntimeDevice

    protocols, w0 = _check_common(rule, protocols, w0, drive)
    if not isinstance(get_device(), RuntimeDevice):
        raise RuntimeError("run_protocol runs in Brian2 runtime mode; call set_device('runtime') first")
    if getattr(rule, "needs_voltage", False) or getattr(rule, "stochastic", False):
        return _run_own_runner(rule, protocols, w0, params, target)
    if getattr(rule, "neuron", None) is not None and drive == "imposed":
        drive, neuron = "neuron", rule.neuron
    free, n_sets = _free_params(params)
    neuron = _default_neuron(neuron) if drive == "neuron" else None
    dt = _pick_dt(protocols, dt, drive)
    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        built = _build(rule, protocols, n_sets, free, w0, dt, drive, neuron)
        Network(*built.objects).run(built.n_steps * dt)
        w = np.asarray(built.syn.w[:], dtype=float)
        counts = None
        if built.post_mon is not None:
            counts = np.bincount(np.asarray(built.post_mon.i[:]), minlength=len(w))
    finally:
        prefs.codegen.target = old
    return _frame(protocols, n_sets, w0, w, counts)


def _run_own_runner(rule, protocols, w0, params, target):
    """Rules that need more than imposed spikes: a voltage-reading rule runs on its neuron
    (:mod:`brainlearn.protocols.runners.voltage`, dt 0.1 ms), a calcium rule on noise lanes
    (:mod:`brainlearn.protocols.runners.calcium`: ``rule.repetitions`` synapses per start state, ``rule.seed``, strength ratio
    of the paper's Eq. 4 as ``w_after / w_before``). Both use the cython target when
    ``target`` is the default numpy: their runs last seconds of biological time at 0.1 ms.
    Both shorten the silence between a protocol's units to their ``QUIET_GAP``
    (:mod:`brainlearn.protocols.runners.gaps`; 1 s for the voltage rule, 100 ms of stretched drift for the calcium
    rule): a 60-pair protocol at 0.1 Hz costs 60 s of simulated time instead of 600 s."""
    if target == "numpy":
        target = "cython"
    if getattr(rule, "needs_voltage", False):
        from brainlearn.protocols.runners.voltage import QUIET_GAP, run_voltage_protocol

        free, n_sets = _free_params(params)
        frame = run_voltage_protocol(rule, protocols, w0=w0, params=free or None, target=target,
                                     quiet_gap=QUIET_GAP).frame
        return frame.drop(columns=["w_last_pre"])
    from brainlearn.protocols.runners.calcium import QUIET_GAP, run_calcium_protocol

    free, n_sets = _free_params(params)
    frame = run_calcium_protocol(rule, protocols, repetitions=int(rule.repetitions), seed=int(rule.seed),
                                 target=target, params=free or None, quiet_gap=QUIET_GAP)
    out = pd.DataFrame({
        "name": frame["name"], "w_before": w0, "w_after": w0 * frame["ratio"], "dw": frame["dw"],
        "n_pre": frame["n_pre"], "n_post": frame["n_post"],
    })
    if "set" in frame:
        out.insert(0, "set", frame["set"])
    return out


def _free_params(params):
    if not params:
        return {}, 1
    sizes = {k: np.atleast_1d(np.asarray(v if not isinstance(v, Quantity) else v / second, dtype=float)).size
             for k, v in params.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every entry of params needs the same number of values, got {sizes}")
    free = {}
    for k, v in params.items():
        arr = v / second if isinstance(v, Quantity) else v
        free[k] = np.atleast_1d(np.asarray(arr, dtype=float))
    return free, next(iter(sizes.values()))


def _default_neuron(neuron):
    if neuron is None:
        from brainlearn.neurons import CurrentLIF

        return CurrentLIF()
    return neuron


def _pick_dt(protocols, dt, drive):
    if dt is None:
        return auto_dt(protocols, max_dt=0.1 * ms if drive == "neuron" else None)
    check_quantity("dt", dt, ms)
    return dt


class PopulationRun:
    """Evaluate many parameter sets of one rule on fixed protocols, reusing one build.

    With ``device="cpp_standalone"`` the network is compiled once and every call only reruns
    the binary with new per-synapse parameters (``run_args``); with ``device="runtime"`` every
    call is one runtime run. Calls must pass ``n_sets`` sets (fewer are padded).
    """

    def __init__(self, rule, protocols, free: list[str], n_sets: int, w0: float = 1.0,
                 device: str = "runtime", dt=None, target: str = "numpy", directory: str | None = None):
        self.rule, self.free, self.n_sets = rule, list(free), int(n_sets)
        self.protocols, self.w0 = _check_common(rule, protocols, w0, "imposed")
        self.dt = _pick_dt(self.protocols, dt, "imposed")
        if device not in ("runtime", "cpp_standalone"):
            raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device!r}")
        self.device, self.target, self.directory = device, target, directory
        self._built = None
        self._device = contextlib.ExitStack()  # holds Brian2's standalone device until close()
        params = rule.params()
        for name in self.free:
            if name not in params or params[name] is None:
                raise ValueError(f"{name!r} is not a set parameter of {type(rule).__name__}")

    def _values(self, matrix):
        matrix = np.atleast_2d(np.asarray(matrix, dtype=float))
        k = matrix.shape[1]
        if k > self.n_sets:
            raise ValueError(f"at most {self.n_sets} parameter sets per call, got {k}")
        pad = np.repeat(matrix[:, :1], self.n_sets - k, axis=1)
        return np.concatenate([matrix, pad], axis=1), k

    def __call__(self, matrix) -> np.ndarray:
        """``matrix`` (n_free, K) in SI units (seconds for times) -> dw array (K, n_protocols)."""
        full, k = self._values(matrix)
        free = dict(zip(self.free, full, strict=True))
        if self.device == "runtime":
            frame = run_protocol(self.rule, self.protocols, self.w0, dt=self.dt, params=free, target=self.target)
            w = frame["w_after"].to_numpy()
        else:
            w = self._standalone(free)
        dw = (w / self.w0 - 1.0).reshape(self.n_sets, len(self.protocols))
        return dw[:k]

    def _standalone(self, free):
        import tempfile

        from brian2 import Network

        from brainlearn.devices import build, use_device
        from brainlearn.standalone import run_standalone

        n_p = len(self.protocols)
        if self._built is None:
            directory = self.directory or self._device.enter_context(
                tempfile.TemporaryDirectory(prefix="brainlearn_protocols_"))
            self._device.enter_context(use_device("cpp_standalone", directory))
            try:
                built = _build(self.rule, self.protocols, self.n_sets, free, self.w0, self.dt, "imposed", None)
                Network(*built.objects).run(built.n_steps * self.dt)
                build(directory, run=False, what="protocol network")
            except BaseException:
                self._device.close()
                raise
            self._built = built
        syn = self._built.syn
        params = self.rule.params()
        run_args = {}
        for name, values in free.items():
            unit = si_unit(params[name])
            run_args[getattr(syn, name)] = np.repeat(values, n_p) * unit
        run_standalone(run_args=run_args)  # staged inputs; a read error fails the run
        return np.asarray(syn.w[:], dtype=float)

    def close(self) -> None:
        """Give the Brian2 device back to runtime mode."""
        self._device.close()
        self._built = None

    def __enter__(self) -> PopulationRun:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
