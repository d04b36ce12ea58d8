"""The user's own plasticity rule, written as Brian2 equation strings.

:class:`EquationRule` is a :class:`~brainlearn.plasticity.PlasticityRule` like the built-in
ones: ``replay``, every protocol (``brainlearn.protocols.run_protocol``), ``score`` and
``fit_rule`` accept it. It is checked when it is made: Brian2 parses the equations, and a
dry build of one synapse (zero simulated time) lets Brian2 resolve every name and check every
unit, so a typo or a unit slip fails at construction with Brian2's message, not deep inside a
long run.

Example: additive pair STDP written by hand (the same rule as ``PairSTDP(w_max=None)``)::

    from brian2 import ms
    from brainlearn.plasticity import EquationRule

    rule = EquationRule(
        model='''w : 1
                 dapre/dt = -apre / tau_plus : 1 (event-driven)
                 dapost/dt = -apost / tau_minus : 1 (event-driven)''',
        on_pre="w = clip(w - A_minus * apost, 0, inf)\\napre += 1",
        on_post="w = clip(w + A_plus * apre, 0, inf)\\napost += 1",
        namespace={"A_plus": 0.01, "A_minus": 0.0105, "tau_plus": 16.8 * ms, "tau_minus": 33.7 * ms},
    )
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from brian2 import Quantity

from brainlearn.plasticity.base import PlasticityRule, SynapseCode
from brainlearn.units import check_number

__all__ = ["EquationRule"]


@dataclass(frozen=True)
class EquationRule(PlasticityRule):
    """A learning rule given as Brian2 ``Synapses`` code.

    Parameters
    ----------
    model : str
        Synapse equations; must define the weight ``w : 1`` (dimensionless, as every rule's).
    on_pre, on_post : str
        Code run at a presynaptic / postsynaptic spike.
    namespace : dict
        Parameter values by name (numbers or Brian2 quantities); these are the parameters
        ``fit_rule`` can vary.
    neuron : NeuronModel, optional
        A postsynaptic neuron model, for rules that read its variables (``v_post``); protocols
        then drive it with kicks (``run_protocol(drive="neuron")``).

    Raises
    ------
    ValueError
        If Brian2 cannot parse the code, a name is undefined, units disagree, ``w`` is missing
        or a namespace value is not a number (``inf`` allowed, for bounds) or a finite quantity. The message names the part
        (``model``, ``on_pre``, ...) and quotes Brian2's reason.
    """

    model: str = "w : 1"
    on_pre: str = ""
    on_post: str = ""
    namespace: dict = field(default_factory=dict)
    neuron: object = None

    def __post_init__(self) -> None:
        super().__post_init__()
        from brian2 import Equations

        for part in ("model", "on_pre", "on_post"):
            if not isinstance(getattr(self, part), str):
                raise ValueError(f"{part} must be a string of Brian2 code, got {type(getattr(self, part)).__name__}")
        try:
            eqs = Equations(self.model)
        except Exception as exc:  # Brian2 raises several types for syntax and unit errors
            raise ValueError(f"model: Brian2 cannot parse the equations: {exc}") from None
        if "w" not in eqs.names:
            raise ValueError("model must define the weight as a dimensionless variable, e.g. 'w : 1'")
        if not eqs["w"].dim.is_dimensionless:
            raise ValueError(f"w must be dimensionless ('w : 1'), got dimensions {eqs['w'].dim}")
        if not isinstance(self.namespace, dict):
            raise ValueError(f"namespace must be a dict of parameter values, got {type(self.namespace).__name__}")
        clean = {}
        for name, value in self.namespace.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"namespace key {name!r} is not a valid name")
            if name in eqs.names:
                raise ValueError(f"{name!r} is both a model variable and a namespace parameter")
            if isinstance(value, Quantity):
                if not np.all(np.isfinite(np.asarray(value))) or np.ndim(value):
                    raise ValueError(f"namespace[{name!r}] must be a finite scalar, got {value!r}")
                clean[name] = value
            elif isinstance(value, (int, float, np.number)) and np.isinf(value):
                clean[name] = float(value)  # an open bound, e.g. w_max = inf
            else:
                clean[name] = check_number(f"namespace[{name!r}]", value)
        object.__setattr__(self, "namespace", clean)
        self._dry_build()

    def _dry_build(self) -> None:
        """Let Brian2 resolve names and check units on one synapse (zero simulated time)."""
        from brian2 import Network, SpikeGeneratorGroup, Synapses, get_device, ms, prefs
        from brian2.devices.device import RuntimeDevice

        if not isinstance(get_device(), RuntimeDevice):
            return  # standalone devices build later; Brian2 checks then
        old = prefs.codegen.target
        prefs.codegen.target = "numpy"
        try:
            pre = SpikeGeneratorGroup(1, [], [] * ms)
            post = self.neuron.group(1) if self.neuron is not None else SpikeGeneratorGroup(1, [], [] * ms)
            code = self.render()
            kwargs = code.kwargs()
            if not kwargs["on_post"]:
                kwargs.pop("on_post")
            syn = Synapses(pre, post, **kwargs)
            syn.connect()
            Network(pre, post, syn).run(0 * ms, namespace={})
        except Exception as exc:
            part = _blame(str(exc))
            raise ValueError(f"{part}: Brian2 rejects the rule: {_first_line(exc)}") from None
        finally:
            prefs.codegen.target = old

    def params(self) -> dict:
        """The namespace parameters by name (what ``fit_rule`` can vary)."""
        return dict(self.namespace)

    def replace(self, **changes) -> EquationRule:
        """A copy with namespace parameters (or ``model``/``on_pre``/... fields) changed."""
        fields_ = {f.name for f in dataclasses.fields(self)}
        namespace = dict(self.namespace)
        other = {}
        for name, value in changes.items():
            if name in fields_:
                other[name] = value
            elif name in namespace:
                namespace[name] = value
            else:
                raise ValueError(f"{name!r} is neither a namespace parameter nor a field of EquationRule; "
                                 f"parameters: {sorted(namespace)}")
        other.setdefault("namespace", namespace)
        return dataclasses.replace(self, **other)

    def render(self, on_pre_effect: str = "", dt: Quantity | None = None) -> SynapseCode:
        """The user's code, with ``on_pre_effect`` run first on a presynaptic spike (``dt`` unused)."""
        on_pre = "\n".join(line for line in (on_pre_effect, self.on_pre) if line)
        return SynapseCode(self.model, on_pre, self.on_post, dict(self.namespace))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    cause = exc.__cause__
    while cause is not None:  # Brian2 wraps the useful message
        text = str(cause).strip() or text
        cause = cause.__cause__
    return " ".join(text.split())[:500]


def _blame(message: str) -> str:
    if "_pre_codeobject" in message or "synapses_pre" in message:
        return "on_pre"
    if "_post_codeobject" in message or "synapses_post" in message:
        return "on_post"
    return "model/on_pre/on_post"
