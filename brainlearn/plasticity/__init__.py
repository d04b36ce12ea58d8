"""Plasticity rules as data: each renders Brian2 ``Synapses`` ``model``/``on_pre``/``on_post`` code.

One module per kind of rule, all with the one rendering signature of
:class:`~brainlearn.plasticity.base.PlasticityRule` (``render(on_pre_effect="", dt=None)``):

- :mod:`~brainlearn.plasticity.base`: :class:`SynapseCode`, :class:`PlasticityRule`;
- :mod:`~brainlearn.plasticity.stdp`: trace-based STDP (:class:`PairSTDP`,
  :class:`TripletSTDP`, :class:`DiehlCookSTDP`);
- :mod:`~brainlearn.plasticity.voltage`: voltage-based STDP (:class:`ClopathSTDP`,
  Clopath et al. 2010) and its lanes of real neurons;
- :mod:`~brainlearn.plasticity.calcium`: calcium-based plasticity
  (:class:`GraupnerBrunelSTDP`, Graupner & Brunel 2012);
- :mod:`~brainlearn.plasticity.equation`: the user's own rule as Brian2 strings
  (:class:`EquationRule`);
- :mod:`~brainlearn.plasticity.replay`: one synapse driven by given spike times
  (:func:`replay`).

Coincident spikes (``dt = 0``) count as pre-before-post, the order in which Brian2 runs a
``Synapses`` object's pathways (:mod:`~brainlearn.plasticity.stdp` states the consequence).
The protocol runners that schedule these rules on published protocols live in
:mod:`brainlearn.protocols.runners`.
"""

from brainlearn.plasticity.base import PlasticityRule, SynapseCode
from brainlearn.plasticity.calcium import GB_PRESETS, GraupnerBrunelSTDP, strength_ratio
from brainlearn.plasticity.equation import EquationRule
from brainlearn.plasticity.replay import replay
from brainlearn.plasticity.stdp import TRIPLET_PRESETS, DiehlCookSTDP, PairSTDP, TripletSTDP
from brainlearn.plasticity.voltage import (
    CLOPATH_PRESETS,
    ClopathSTDP,
    replay_voltage,
    run_voltage_lanes,
)

__all__ = [
    "SynapseCode",
    "PlasticityRule",
    "PairSTDP",
    "TripletSTDP",
    "DiehlCookSTDP",
    "TRIPLET_PRESETS",
    "ClopathSTDP",
    "CLOPATH_PRESETS",
    "GraupnerBrunelSTDP",
    "GB_PRESETS",
    "strength_ratio",
    "EquationRule",
    "replay",
    "replay_voltage",
    "run_voltage_lanes",
]
