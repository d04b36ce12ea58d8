"""Neuron models as data: frozen dataclasses of Brian2 quantities that build NeuronGroups.

Every model renders Brian2 equation strings plus a namespace; Brian2 checks the units and
generates the code. Parameters are checked when the dataclass is created: a unit-less,
wrong-unit or NaN value raises ``ValueError`` naming the parameter and the expected unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from brian2 import NeuronGroup, Quantity, ms, mV, nS, pA, pF

import brainlearn.integration  # noqa: F401  (registers method="implicit_euler" with Brian2)
from brainlearn.units import NUMBER, CheckedParams, qfield

__all__ = ["CurrentLIF", "ConductanceLIF", "IFNeuron", "DiscreteLIF", "SpikingJellyLIF", "RESETS",
           "ClopathAdEx",
           "NeuronModel"]

#: times that may be zero; every other time parameter (``tau_*``, ``step``) must be > 0
NON_NEGATIVE_TIMES = ("refractory", "timer_block", "t_clamp")


class NeuronModel(CheckedParams):
    """Shared behaviour: unit checking, namespace and ``NeuronGroup`` construction."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, unit in self._units.items():
            value = getattr(self, name)
            if value is None or unit is not ms:
                continue
            if name in NON_NEGATIVE_TIMES:
                if not value >= 0 * ms:
                    raise ValueError(f"{name} must be a non-negative time in ms, got {value!r}")
            elif not value > 0 * ms:
                raise ValueError(f"{name} must be a positive time in ms, got {value!r}")

    # subclasses define these
    def equations(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def threshold(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def refractory_period(self):
        """The refractory period passed to ``NeuronGroup`` (``False`` when none).

        ``0 * ms`` is passed on as is (not as ``False``), so the group still has
        ``lastspike`` (used by ``timer_block``) and ``unless refractory`` stays valid.
        """
        value = getattr(self, "refractory", None)
        return False if value is None else value

    def initial_values(self) -> dict:
        """Initial values of the state variables."""
        return {}

    def group(
        self,
        n: int,
        *,
        name: str | None = None,
        method: str = "euler",
        extra_equations: str = "",
        extra_reset: str = "",
        namespace: dict | None = None,
        **kwargs,
    ) -> NeuronGroup:
        """Build a ``NeuronGroup`` of ``n`` neurons of this model.

        Parameters
        ----------
        n : int
            Number of neurons.
        name : str, optional
            Brian2 name of the group.
        method : str
            Integration method (default ``"euler"``, as the original models used).
        extra_equations, extra_reset : str
            Equations and reset statements added to the model's (e.g. plasticity traces).
        namespace : dict, optional
            Extra names for the group's namespace.
        **kwargs
            Passed to ``NeuronGroup`` (e.g. ``dt``).
        """
        if int(n) <= 0:
            raise ValueError(f"n must be a positive number of neurons, got {n!r}")
        reset = "\n".join(code for code in (self.reset(), extra_reset) if code)
        group = NeuronGroup(
            int(n),
            self.equations() + extra_equations,
            threshold=self.threshold(),
            reset=reset,
            refractory=kwargs.pop("refractory", self.refractory_period()),
            method=method,
            namespace={**self.namespace(), **(namespace or {})},
            name=name or "neurongroup*",
            **kwargs,
        )
        for var, value in self.initial_values().items():
            setattr(group, var, value)
        return group


@dataclass(frozen=True)
class CurrentLIF(NeuronModel):
    """Current-based leaky integrate-and-fire neuron.

    ``dv/dt = (v_rest - v + I) / tau_m``, ``dI/dt = -I / tau_syn``; a synapse adds to ``I``
    (in volts, i.e. the current times the membrane resistance).
    """

    tau_m: Quantity = qfield(20 * ms)
    tau_syn: Quantity = qfield(5 * ms)
    v_rest: Quantity = qfield(-65 * mV)
    v_reset: Quantity = qfield(-65 * mV)
    v_thresh: Quantity = qfield(-50 * mV)
    refractory: Quantity = qfield(2 * ms)

    _units = {
        "tau_m": ms, "tau_syn": ms, "v_rest": mV, "v_reset": mV, "v_thresh": mV, "refractory": ms,
    }

    def equations(self) -> str:
        return (
            "dv/dt = (v_rest - v + I) / tau_m : volt (unless refractory)\n"
            "dI/dt = -I / tau_syn : volt\n"
        )

    def threshold(self) -> str:
        return "v > v_thresh"

    def reset(self) -> str:
        return "v = v_reset"

    def initial_values(self) -> dict:
        return {"v": self.v_rest}


@dataclass(frozen=True)
class ConductanceLIF(NeuronModel):
    """Conductance-based LIF with conductances normalised to the leak (Diehl & Cook 2015).

    ``dv/dt = ((v_rest - v) + ge (E_exc - v) + gi (E_inh - v)) / tau_m`` with exponentially
    decaying dimensionless ``ge``, ``gi``. With ``theta_plus`` set, the threshold adapts:
    ``v > theta - theta_offset + v_thresh``, ``theta += theta_plus`` per spike, decaying with
    ``tau_theta``; the shared variable ``theta_on`` (1 by default, 0 freezes theta for testing)
    gates both the increment and the decay. ``timer_block`` adds the extra spike block of the
    original code's ``timer`` condition (see ``models/diehl_cook/model.py``).
    """

    tau_m: Quantity = qfield(100 * ms)
    v_rest: Quantity = qfield(-65 * mV)
    v_reset: Quantity = qfield(-65 * mV)
    v_thresh: Quantity = qfield(-52 * mV)
    E_exc: Quantity = qfield(0 * mV)
    E_inh: Quantity = qfield(-100 * mV)
    tau_ge: Quantity = qfield(1 * ms)
    tau_gi: Quantity = qfield(2 * ms)
    refractory: Quantity = qfield(5 * ms)
    theta_plus: Quantity | None = None
    tau_theta: Quantity = qfield(1e7 * ms)
    theta_init: Quantity = qfield(20 * mV)
    theta_offset: Quantity = qfield(20 * mV)
    v_init: Quantity | None = None
    timer_block: Quantity | None = None

    _units = {
        "tau_m": ms, "v_rest": mV, "v_reset": mV, "v_thresh": mV, "E_exc": mV, "E_inh": mV,
        "tau_ge": ms, "tau_gi": ms, "refractory": ms, "theta_plus": mV, "tau_theta": ms,
        "theta_init": mV, "theta_offset": mV, "v_init": mV, "timer_block": ms,
    }

    @property
    def adaptive(self) -> bool:
        """Whether the threshold adapts (``theta_plus`` is set)."""
        return self.theta_plus is not None

    def equations(self) -> str:
        eqs = (
            "dv/dt = ((v_rest - v) + ge * (E_exc - v) + gi * (E_inh - v)) / tau_m"
            " : volt (unless refractory)\n"
            "dge/dt = -ge / tau_ge : 1\n"
            "dgi/dt = -gi / tau_gi : 1\n"
        )
        if self.adaptive:
            eqs += "dtheta/dt = -theta_on * theta / tau_theta : volt\ntheta_on : 1 (shared)\n"
        return eqs

    def threshold(self) -> str:
        cond = "v > theta - theta_offset + v_thresh" if self.adaptive else "v > v_thresh"
        if self.timer_block is not None:
            cond += " and (t - lastspike) > timer_block"
        return cond

    def reset(self) -> str:
        code = "v = v_reset"
        if self.adaptive:
            code += "\ntheta += theta_on * theta_plus"
        return code

    def initial_values(self) -> dict:
        values = {"v": self.v_init if self.v_init is not None else self.v_rest}
        if self.adaptive:
            values.update(theta=self.theta_init, theta_on=1.0)
        return values


@dataclass(frozen=True)
class IFNeuron(NeuronModel):
    """Non-leaky integrate-and-fire neuron for ANN-to-SNN conversion.

    The membrane ``v`` is dimensionless (in units of the ANN activation); every ``step`` it
    integrates the per-neuron constant input ``bias`` (``dv/dt = bias / step``; synapses add
    ``w`` to ``v``). Threshold ``v > v_thresh``; ``reset="subtract"`` subtracts the threshold
    (Rueckauer et al. 2017), ``reset="zero"`` sets ``v = 0`` (Diehl et al. 2015).
    """

    v_thresh: float = 1.0
    step: Quantity = qfield(1 * ms)
    reset_mode: str = "subtract"

    _units = {"v_thresh": NUMBER, "step": ms}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reset_mode not in ("subtract", "zero"):
            raise ValueError(f"reset_mode must be 'subtract' or 'zero', got {self.reset_mode!r}")

    def equations(self) -> str:
        return "dv/dt = bias / step : 1\nbias : 1\n"

    def threshold(self) -> str:
        return "v > v_thresh"

    def reset(self) -> str:
        return "v -= v_thresh" if self.reset_mode == "subtract" else "v = 0"

    def refractory_period(self):
        return False



@dataclass(frozen=True)
class DiscreteLIF(NeuronModel):
    """Discrete-time LIF neuron of surrogate-gradient training (snnTorch's ``Leaky``).

    One time step of length ``step`` computes, with the membrane ``v`` dimensionless::

        U[t] = beta * U[t-1] + I[t] - v_thresh * S[t-1]      (reset by subtraction)
        S[t] = U[t] > v_thresh

    In Brian2 the leak is ``dv/dt = -v / tau`` with ``tau = -step / ln(beta)``, integrated
    with the ``exact`` method, so one step multiplies ``v`` by ``beta``. The order within a
    step is: inputs add to ``v`` (synapses ``v_post += w``, constant inputs by a
    ``run_regularly``), the threshold is checked, the reset subtracts ``v_thresh / beta``, and
    the leak runs last (:meth:`group` moves the state update to the ``end`` slot). Then ``v``
    after step ``t`` is ``beta * U[t] - v_thresh * S[t]`` and the next input gives exactly
    ``U[t+1]`` (the reset of a spike at ``t`` lands in ``U[t+1]``, not in ``U[t]``). A layer fed
    by another layer must check its threshold after the synapses of the same step
    (``set_event_schedule("spike", "synapses", order)``).
    """

    beta: float = 0.95
    v_thresh: float = 1.0
    step: Quantity = qfield(1 * ms)

    _units = {"beta": NUMBER, "v_thresh": NUMBER, "step": ms}

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.beta < 1:
            raise ValueError(f"beta must be in (0, 1), got {self.beta!r} "
                             "(beta = 1 is the non-leaky IFNeuron)")
        if not self.v_thresh > 0:
            raise ValueError(f"v_thresh must be positive, got {self.v_thresh!r}")

    @property
    def tau(self) -> Quantity:
        """The membrane time constant whose exact decay over one step is ``beta``."""
        return -self.step / math.log(self.beta)

    def namespace(self) -> dict:
        return {"beta": self.beta, "v_thresh": self.v_thresh, "step": self.step,
                "tau": self.tau}

    def equations(self) -> str:
        return "dv/dt = -v / tau : 1\n"

    def threshold(self) -> str:
        return "v > v_thresh"

    def reset(self) -> str:
        return "v -= v_thresh / beta"

    def refractory_period(self):
        return False

    def group(self, n: int, *, method: str = "exact", **kwargs) -> NeuronGroup:
        """Build the group (``dt = step`` unless given) with the leak in the ``end`` slot."""
        kwargs.setdefault("dt", self.step)
        group = super().group(n, method=method, **kwargs)
        group.state_updater.when = "end"
        return group


#: resets of :class:`SpikingJellyLIF`: to zero (hard) or by subtracting the threshold (soft)
RESETS = ("zero", "subtract")


@dataclass(frozen=True)
class SpikingJellyLIF(NeuronModel):
    """Discrete-time LIF neuron of SpikingJelly (``neuron.LIFNode``, ``v_reset = 0``).

    One time step of length ``step`` charges, fires and resets, with the membrane dimensionless
    and ``tau`` in steps (W. Fang et al. 2023, Sci. Adv. 9:eadi1480, ``LIFNode``)::

        H[t] = V[t-1] + (X[t] - V[t-1]) / tau     (decay_input=True, SpikingJelly's default)
        H[t] = V[t-1] - V[t-1] / tau + X[t]       (decay_input=False)
        S[t] = H[t] >= v_thresh                   (SpikingJelly's Heaviside is 1 at 0)
        V[t] = H[t] (1 - S[t])                    (reset_mode="zero": hard reset to 0)
        V[t] = H[t] - v_thresh S[t]               (reset_mode="subtract")

    so ``H[t] = beta V[t-1] + g X[t]`` with ``beta = 1 - 1 / tau`` and the input gain
    ``g = 1 / tau`` (``decay_input``) or 1. Unlike :class:`DiscreteLIF` (snnTorch), the reset
    acts on the same step's membrane and a subtracted threshold decays with it.

    In Brian2 the leak is ``dv/dt = -v / tau_leak`` with ``tau_leak = -step / ln(beta)``,
    integrated with the ``exact`` method in the ``end`` slot of every step (:meth:`group`), so
    one step multiplies ``v`` by ``beta``. The order within a step is: inputs add ``g X[t]`` to
    ``v`` (synapses ``v_post += g w``, constant or per-step inputs by a ``run_regularly``), so
    ``v = H[t]``; the threshold is checked; the reset sets ``v = 0`` (or subtracts
    ``v_thresh``), so ``v = V[t]``; the leak runs last and leaves ``beta V[t]`` for the next
    step's input. A layer fed by another layer must check its threshold after the synapses of
    the same step (``set_event_schedule("spike", "synapses", order)``).

    Parameters
    ----------
    tau : float
        Membrane time constant in steps (> 1; SpikingJelly's ``tau``: 2 in the single-layer
        MNIST example, 100 in the two-layer one, i.e. 100 ms with 1 ms steps).
    decay_input : bool
        Whether the input is divided by ``tau`` as well (SpikingJelly's default ``True``).
    v_thresh : float
        Firing threshold (``v_threshold``, 1).
    reset_mode : {"zero", "subtract"}
        Hard reset to ``v_reset = 0`` or soft reset (``v_reset=None`` in SpikingJelly).
    step : Quantity
        Length of one step (1 ms).
    """

    tau: float = 2.0
    decay_input: bool = True
    v_thresh: float = 1.0
    reset_mode: str = "zero"
    step: Quantity = qfield(1 * ms)

    _units = {"tau": NUMBER, "v_thresh": NUMBER, "step": ms}

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.tau > 1:
            raise ValueError(f"tau must be a number of steps above 1, got {self.tau!r} "
                             "(tau = 1 leaves no memory)")
        if not self.v_thresh > 0:
            raise ValueError(f"v_thresh must be positive, got {self.v_thresh!r}")
        if self.reset_mode not in RESETS:
            raise ValueError(f"reset must be one of {', '.join(RESETS)}, got {self.reset_mode!r}")
        object.__setattr__(self, "decay_input", bool(self.decay_input))

    @property
    def beta(self) -> float:
        """Decay of the membrane per step, ``1 - 1 / tau``."""
        return 1.0 - 1.0 / self.tau

    @property
    def input_gain(self) -> float:
        """Factor ``g`` of the input: ``1 / tau`` with ``decay_input``, else 1."""
        return 1.0 / self.tau if self.decay_input else 1.0

    @property
    def tau_leak(self) -> Quantity:
        """The time constant whose exact decay over one step is ``beta``."""
        return -self.step / math.log(self.beta)

    def namespace(self) -> dict:
        return {"v_thresh": self.v_thresh, "step": self.step, "tau_leak": self.tau_leak}

    def equations(self) -> str:
        return "dv/dt = -v / tau_leak : 1\n"

    def threshold(self) -> str:
        return "v >= v_thresh"

    def reset(self) -> str:
        return "v = 0" if self.reset_mode == "zero" else "v -= v_thresh"

    def refractory_period(self):
        return False

    def group(self, n: int, *, method: str = "exact", **kwargs) -> NeuronGroup:
        """Build the group (``dt = step`` unless given) with the leak in the ``end`` slot."""
        kwargs.setdefault("dt", self.step)
        group = super().group(n, method=method, **kwargs)
        group.state_updater.when = "end"
        return group


@dataclass(frozen=True)
class ClopathAdEx(NeuronModel):
    """Adaptive exponential integrate-and-fire neuron of Clopath et al. (2010, Nat Neurosci 13:344).

    The neuron the voltage-based STDP rule (:class:`brainlearn.plasticity.ClopathSTDP`)
    was built for: AdEx (Brette & Gerstner 2005) with a depolarising spike after-potential ``z``
    and an adaptive threshold ``V_T``::

        C dv/dt      = -g_L (v - E_L) + g_L Delta_T exp((v - V_T) / Delta_T) - w_ad + z + I_ext
        tau_w dw_ad/dt = a (v - E_L) - w_ad
        tau_z dz/dt  = -z
        tau_VT dV_T/dt = V_T_rest - V_T

    When ``v > V_peak`` the neuron spikes: ``v = V_clamp`` for ``t_clamp`` (``v`` and ``w_ad``
    frozen; the spike has a width, which the rule's filtered potentials see), then
    ``v = V_reset``; at the spike ``w_ad += b``, ``z = I_sp``, ``V_T = V_T_max``. The clamp and
    its reset are the authors' MATLAB code (ModelDB 144566) as NEST's
    ``aeif_psc_delta_clopath`` implements them; the paper does not describe them.

    Defaults: the paper's Table (C 281 pF, g_L 30 nS, E_L -70.6 mV, V_T_rest -50.4 mV,
    Delta_T 2 mV, tau_w 144 ms, a 4 nS, b 0.0805 nA, I_sp 400 pA, tau_z 40 ms,
    V_T_max -30.4 mV, tau_VT 50 ms); spike shape as NEST's Clopath example (V_peak = V_clamp
    = 33 mV, t_clamp 2 ms, V_reset = E_L + 21 mV). NEST's own default ``V_th_max`` is +30.4 mV
    and its example's ``b`` is 0.0805 pA (a unit slip); pass those to reproduce NEST.
    ``I_ext`` is a per-neuron input current (a state variable, 0 by default).
    """

    C: Quantity = qfield(281 * pF)
    g_L: Quantity = qfield(30 * nS)
    E_L: Quantity = qfield(-70.6 * mV)
    V_T_rest: Quantity = qfield(-50.4 * mV)
    Delta_T: Quantity = qfield(2 * mV)
    tau_w: Quantity = qfield(144 * ms)
    a: Quantity = qfield(4 * nS)
    b: Quantity = qfield(80.5 * pA)
    I_sp: Quantity = qfield(400 * pA)
    tau_z: Quantity = qfield(40 * ms)
    V_T_max: Quantity = qfield(-30.4 * mV)
    tau_VT: Quantity = qfield(50 * ms)
    V_peak: Quantity = qfield(33 * mV)
    V_clamp: Quantity = qfield(33 * mV)
    t_clamp: Quantity = qfield(2 * ms)
    V_reset: Quantity = qfield(-49.6 * mV)

    _units = {
        "C": pF, "g_L": nS, "E_L": mV, "V_T_rest": mV, "Delta_T": mV, "tau_w": ms, "a": nS, "b": pA,
        "I_sp": pA, "tau_z": ms, "V_T_max": mV, "tau_VT": ms, "V_peak": mV, "V_clamp": mV,
        "t_clamp": ms, "V_reset": mV,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.Delta_T > 0 * mV:
            raise ValueError(f"Delta_T must be a positive voltage in mV, got {self.Delta_T!r}")
        if not self.V_reset < self.V_peak:
            raise ValueError(f"V_reset must be below V_peak, got V_reset={self.V_reset!r}, "
                             f"V_peak={self.V_peak!r}")

    @property
    def v_thresh(self) -> Quantity:
        """The spike detection threshold (``V_peak``)."""
        return self.V_peak

    @property
    def v_rest(self) -> Quantity:
        """The resting potential (``E_L``)."""
        return self.E_L

    def equations(self) -> str:
        return (
            "dv/dt = (g_L * (E_L - v) + g_L * Delta_T * exp((v - V_T) / Delta_T) - w_ad + z + I_ext) / C"
            " : volt (unless refractory)\n"
            "dw_ad/dt = (a * (v - E_L) - w_ad) / tau_w : amp (unless refractory)\n"
            "dz/dt = -z / tau_z : amp\n"
            "dV_T/dt = (V_T_rest - V_T) / tau_VT : volt\n"
            "I_ext : amp\n"
        )

    def threshold(self) -> str:
        return "v > V_peak"

    def reset(self) -> str:
        return "v = V_clamp\nw_ad += b\nz = I_sp\nV_T = V_T_max"

    def refractory_period(self):
        return self.t_clamp

    def initial_values(self) -> dict:
        return {"v": self.E_L, "V_T": self.V_T_rest}

    def group(self, n: int, clamp: str = "brian", **kwargs) -> NeuronGroup:
        """Build the group; the end of the clamp (``v = V_reset``) is the custom event ``unclamp``.

        Brian2 lets the state update run again in the step where ``t - lastspike`` reaches
        the refractory period, so the clamp is ended just before that update (slot
        ``before_groups``): ``v`` holds ``V_clamp`` at the end of the spike's step and of the
        ``t_clamp / dt - 1`` steps after it, and the update of the next step starts from
        ``V_reset``. ``clamp="nest"`` ends it as NEST's ``aeif_psc_delta_clopath`` does: the
        step ``t_clamp`` after the spike is still integrated with ``v = V_clamp`` (the
        filtered potentials of a voltage rule see one more clamped step) and ends at
        ``v = V_reset``.
        """
        if clamp not in ("brian", "nest"):
            raise ValueError(f"clamp must be 'brian' or 'nest', got {clamp!r}")
        events = dict(kwargs.pop("events", {}) or {})
        events["unclamp"] = "timestep(t - lastspike, dt) == timestep(t_clamp, dt)"
        when = "before_groups"
        if clamp == "nest":
            kwargs["refractory"] = "timestep(t - lastspike, dt) <= timestep(t_clamp, dt)"
            when = "after_groups"
        group = super().group(n, events=events, **kwargs)
        group.thresholder["unclamp"].when = when
        group.thresholder["unclamp"].order = 0
        group.run_on_event("unclamp", "v = V_reset", when=when, order=1)
        return group
