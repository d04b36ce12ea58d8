"""The state of a Diehl & Cook network between runs, with units (checkpoint format)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from brian2 import Quantity, second, volt

from brainlearn.models.diehl_cook.config import TrainConfig
from brainlearn.models.diehl_cook.model import N_INPUTS, DiehlCookParams

__all__ = ["ControllerState", "NetworkState", "PENDING_COUNTS", "initial_state", "frozen_state"]


@dataclass
class ControllerState:
    """The presentation controller between runs (see :mod:`brainlearn.presentation`)."""

    intensity: float
    pending: float = 0.0  # 1: the last presentation awaits its accept-or-retry decision
    nspk: float = 0.0  # spikes of the pending presentation so far
    retries: float = 0.0


@dataclass
class NetworkState:
    """The state carried from run to run, in row order ``i * n + j`` for synapses.

    Attributes with units are Brian2 quantities. ``tpre`` (the last pre-spike arrival of each
    synapse, relative to the next run's start), ``post1``/``post2`` (post traces), ``pre``
    (the all-to-all pre trace) and ``delays`` are training state: a frozen network has None.
    ``pending_counts`` holds the spike counts of a run's undecided last presentation.
    """

    w: np.ndarray
    theta: Quantity
    v: Quantity
    ge: np.ndarray
    gi: np.ndarray
    inh_v: Quantity
    inh_ge: np.ndarray
    inh_gi: np.ndarray
    controller: ControllerState
    delays: Quantity | None = None
    tpre: Quantity | None = None
    pre: np.ndarray | None = None
    post1: np.ndarray | None = None
    post2: np.ndarray | None = None
    pending_counts: np.ndarray | None = None

    #: attribute -> Brian2 ``object.variable`` (and checkpoint key)
    KEYS: ClassVar[dict[str, str]] = {
        "w": "syn.w", "tpre": "syn.tpre", "pre": "syn.pre", "theta": "exc.theta",
        "v": "exc.v", "ge": "exc.ge", "gi": "exc.gi", "post1": "exc.post1",
        "post2": "exc.post2", "inh_v": "inh.v", "inh_ge": "inh.ge", "inh_gi": "inh.gi",
    }
    UNITS: ClassVar[dict[str, Quantity]] = {"theta": volt, "v": volt, "inh_v": volt,
                                            "tpre": second, "delays": second}
    #: carried by a frozen (evaluation) network (whose inhibitory ``gi`` is a constant zero of
    #: the network, ``model.frozen_inh_group``, whatever a state holds)
    FROZEN: ClassVar[tuple[str, ...]] = ("w", "theta", "v", "ge", "gi", "inh_v", "inh_ge")
    SYNAPTIC: ClassVar[tuple[str, ...]] = ("w", "tpre", "pre")

    @property
    def n(self) -> int:
        """Number of excitatory neurons."""
        return len(self.ge)

    @property
    def weights(self) -> np.ndarray:
        """Input weights as a ``(784, n)`` matrix."""
        return self.w.reshape(N_INPUTS, -1)

    @classmethod
    def initial(cls, params: DiehlCookParams, n: int, seed: int) -> NetworkState:
        """The untrained network for ``n`` neurons (weights and delays drawn from ``seed``)."""
        rng = np.random.default_rng(seed)
        w = params.initial_weights(n, rng)
        delays = params.initial_delays(n, rng)
        exc, inh = params.exc, params.inh
        all_to_all = params.stdp.scheme == "all-to-all"  # the pre trace at its last spike
        return cls(
            w=w.ravel(), tpre=np.full(N_INPUTS * n, -1e9) * second, delays=delays.ravel() * second,
            v=np.full(n, float(exc.v_init / 1e-3) * 1e-3) * volt, ge=np.zeros(n), gi=np.zeros(n),
            theta=np.full(n, float(exc.theta_init / 1e-3) * 1e-3) * volt,
            post1=np.zeros(n), post2=np.zeros(n),
            inh_v=np.full(n, float(inh.v_init / 1e-3) * 1e-3) * volt, inh_ge=np.zeros(n),
            inh_gi=np.zeros(n), controller=ControllerState(intensity=params.intensity_start),
            pre=np.zeros(N_INPUTS * n) if all_to_all else None,
        )

    def frozen(self, weights: np.ndarray, theta: np.ndarray) -> NetworkState:
        """This state with trained ``weights`` ``(784, n)`` and ``theta`` (volts), without the
        training state."""
        return dataclasses.replace(self, w=np.asarray(weights).ravel(),
                                   theta=np.asarray(theta) * volt, delays=None, tpre=None,
                                   pre=None, post1=None, post2=None, pending_counts=None)

    def _carried(self, plastic: bool) -> list[str]:
        # what a plastic (training) or frozen network runs with and gives back
        return [a for a in self.KEYS if getattr(self, a) is not None
                and (plastic or a in self.FROZEN)]

    def run_vars(self, order: np.ndarray, plastic: bool) -> dict[str, np.ndarray]:
        """Initial values of a run of a plastic or frozen network by ``object.variable``
        (SI values; synapses in the network's ``order``)."""
        out = {}
        for attr in self._carried(plastic):
            key, value = self.KEYS[attr], getattr(self, attr)
            value = np.asarray(value)
            out[key] = value[order] if attr in self.SYNAPTIC else value
        out.update({f"controller.{k}": np.array([float(v)])
                    for k, v in asdict(self.controller).items()})
        return out

    def read_back(self, out: dict, order: np.ndarray, plastic: bool) -> NetworkState:
        """This state updated from the objects ``out`` of a finished run (see :meth:`run_vars`)."""
        changes = {}
        for attr in self._carried(plastic):
            name, var = self.KEYS[attr].split(".")
            value = np.array(getattr(out[name], var + "_")[:], dtype=float)
            if attr in self.SYNAPTIC:
                value[order] = value.copy()
            changes[attr] = value * self.UNITS[attr] if attr in self.UNITS else value
        ctl = out["controller"]
        changes["controller"] = ControllerState(**{k: float(getattr(ctl, k + "_")[0])
                                                   for k in asdict(self.controller)})
        return dataclasses.replace(self, **changes)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The checkpoint's arrays (keys ``object.variable``, ``delays``, ``pending.counts``)."""
        out = {key: np.asarray(getattr(self, attr)) for attr, key in self.KEYS.items()
               if getattr(self, attr) is not None}
        if self.delays is not None:
            out["delays"] = np.asarray(self.delays)
        out.update({f"controller.{k}": np.array([float(v)])
                    for k, v in asdict(self.controller).items()})
        if self.pending_counts is not None:
            out[PENDING_COUNTS] = self.pending_counts
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> NetworkState:
        """The state of a checkpoint's arrays (:meth:`to_arrays`)."""
        values = {}
        for attr, key in {**cls.KEYS, "delays": "delays"}.items():
            if key in arrays:
                value = np.asarray(arrays[key], dtype=float)
                values[attr] = value * cls.UNITS[attr] if attr in cls.UNITS else value
        controller = ControllerState(**{k: float(arrays[f"controller.{k}"][0])
                                        for k in ("intensity", "pending", "nspk", "retries")})
        pending = arrays.get(PENDING_COUNTS)
        return cls(**values, controller=controller, pending_counts=pending)


#: spike counts of a run's undecided last presentation, carried to the next run (checkpoint key)
PENDING_COUNTS = "pending.counts"


def initial_state(params: DiehlCookParams, n: int, seed: int) -> NetworkState:
    """The untrained network's state for ``n`` neurons (:meth:`NetworkState.initial`)."""
    return NetworkState.initial(params, n, seed)


def frozen_state(config: TrainConfig | Mapping, params: DiehlCookParams,
                 weights: Mapping[str, np.ndarray]) -> NetworkState:
    """Initial state of the frozen network: trained weights and theta, rest values."""
    config = TrainConfig.of(config)
    return NetworkState.initial(params, config.neurons, config.seed).frozen(weights["weights"],
                                                                            weights["theta"])
