"""The base of every plasticity rule: :class:`SynapseCode` (what a rule renders) and
:class:`PlasticityRule` (parameter checks, ``replace``, the one ``render`` signature).

Sign convention: ``dt = t_post - t_pre`` (``dt > 0``, pre before post, potentiates).
Amplitudes are dimensionless weight changes (weights normalised to ``w_max``), time
constants Brian2 times.

Every rule renders with ``rule.render(on_pre_effect="", dt=None)``: ``on_pre_effect`` is
code run first on a presynaptic spike (e.g. ``"ge_post += w"``), ``dt`` the simulation time
step, which rules whose code depends on it read (state on the post-synaptic group that
decays step by step, delay registers) and the others ignore. A subclass may add keyword-only
rendering options after these two (:class:`~brainlearn.plasticity.DiehlCookSTDP` does);
callers that handle any rule (``replay``, the protocol runners) pass only the two.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields

import numpy as np
from brian2 import Quantity, ms

import brainlearn.integration  # noqa: F401  (registers method="implicit_euler" with Brian2)
from brainlearn.units import CheckedParams

__all__ = ["SynapseCode", "PlasticityRule", "SCHEMES", "join_lines"]

SCHEMES = ("all-to-all", "nearest")


@dataclass(frozen=True)
class SynapseCode:
    """Rendered Brian2 code of a rule: pass ``model``, ``on_pre``, ``on_post``, ``namespace``
    to ``brian2.Synapses``.

    A rule may keep state on the post-synaptic group instead of every synapse (traces that
    are the same for all synapses of a cell): ``post_model`` holds those equations (to add to
    the group's, integrated with ``post_method``), ``post_reset`` the statements its reset
    runs on a spike (after the synapses' ``on_post``, so ``on_post`` reads the traces from
    before the spike), ``post_namespace`` their constants. Empty for rules that keep all
    their state on the synapses. ``initial`` gives synaptic variables whose initial value
    is not zero (e.g. the time of a last pre spike that has not happened).
    """

    model: str
    on_pre: str
    on_post: str
    namespace: dict
    post_model: str = ""
    post_reset: str = ""
    post_namespace: dict = field(default_factory=dict)
    post_method: str = "euler"
    #: initial values of synaptic variables other than zero (set them after ``connect``)
    initial: dict = field(default_factory=dict)

    def kwargs(self) -> dict:
        """Keyword arguments for ``brian2.Synapses``."""
        return {
            "model": self.model,
            "on_pre": self.on_pre,
            "on_post": self.on_post,
            "namespace": dict(self.namespace),
        }


class PlasticityRule(CheckedParams):
    """Shared behaviour of the rules: parameter checks, ``replace`` and rendering.

    A subclass defines :meth:`render` with the signature ``render(self, on_pre_effect="",
    dt=None)`` (keyword-only options may follow); a ``render`` without ``dt`` is refused
    when the class is defined, with a message that shows the signature to write.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        render = cls.__dict__.get("render")
        if render is None:
            return
        names = list(inspect.signature(render).parameters)[1:3]
        if names != ["on_pre_effect", "dt"]:
            raise TypeError(
                f"{cls.__name__}.render takes ({', '.join(names)}); a plasticity rule renders with "
                "render(self, on_pre_effect: str = '', dt=None) (dt: the time step, ignore it if "
                "the code does not depend on it)")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self._units:
            value = getattr(self, name)
            if name.startswith("tau") and value is not None and not value > 0 * ms:
                raise ValueError(f"{name} must be a positive time in ms, got {value!r}")
        scheme = getattr(self, "scheme", None)
        schemes = getattr(self, "schemes", SCHEMES)
        if scheme is not None and scheme not in schemes:
            raise ValueError(f"scheme must be one of {schemes}, got {scheme!r}")
        w_min, w_max = getattr(self, "w_min", None), getattr(self, "w_max", None)
        if w_min is not None and w_max is not None and not w_min < w_max:
            raise ValueError(f"w_min must be below w_max, got w_min={w_min}, w_max={w_max}")

    def params(self) -> dict:
        """The rule's parameters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def namespace(self) -> dict:
        """Numeric parameters for the Brian2 namespace (no upper bound: ``w_max = inf``)."""
        ns = super().namespace()
        if "w_max" in self._units and self.w_max is None:
            ns["w_max"] = np.inf
        return ns

    def _clip(self, expr: str) -> str:
        return f"w = clip({expr}, w_min, w_max)"

    def _trace(self, name: str) -> str:
        return f"{name} += 1" if getattr(self, "scheme", "nearest") == "all-to-all" else f"{name} = 1"

    def render(self, on_pre_effect: str = "", dt: Quantity | None = None) -> SynapseCode:  # pragma: no cover - abstract
        """Render the Synapses code.

        Parameters
        ----------
        on_pre_effect : str
            Code run first on a presynaptic spike (e.g. ``"ge_post += w"``).
        dt : Quantity, optional
            The simulation time step, for rules whose rendering depends on it (state on the
            post-synaptic group that decays step by step, delay registers); the others
            ignore it.

        Returns
        -------
        SynapseCode
        """
        raise NotImplementedError


def join_lines(*lines: str) -> str:
    """Brian2 code from lines, the empty ones left out (a rule renders optional lines as "")."""
    return "\n".join(line for line in lines if line)


