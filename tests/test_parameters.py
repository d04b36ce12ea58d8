"""Parameter guards of the neuron models, the plasticity rules and ``replay``.

A unit-less, wrong-unit or NaN parameter raises ``ValueError`` naming the parameter and the
expected unit, when the model is created (not deep inside Brian2's code generation).
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, ms, mV, nA

from brainlearn.neurons import ConductanceLIF, CurrentLIF, IFNeuron
from brainlearn.plasticity import DiehlCookSTDP, PairSTDP, TripletSTDP, replay

#: (factory, parameter, a good value) for every time/voltage parameter kind
QUANTITY_PARAMS = [
    (PairSTDP, "tau_plus", 16.8 * ms),
    (PairSTDP, "tau_minus", 33.7 * ms),
    (TripletSTDP, "tau_x", 101 * ms),
    (TripletSTDP, "tau_y", 125 * ms),
    (DiehlCookSTDP, "tau_post2", 40 * ms),
    (CurrentLIF, "tau_m", 20 * ms),
    (CurrentLIF, "v_thresh", -50 * mV),
    (ConductanceLIF, "E_inh", -100 * mV),
    (ConductanceLIF, "theta_plus", 0.05 * mV),
    (ConductanceLIF, "timer_block", 50 * ms),
    (IFNeuron, "step", 1 * ms),
]
IDS = [f"{f.__name__}.{name}" for f, name, _ in QUANTITY_PARAMS]


def unit_name(value) -> str:
    return "mV" if value.has_same_dimensions(mV) else "ms"


@pytest.mark.parametrize("factory, name, good", QUANTITY_PARAMS, ids=IDS)
def test_unitless_parameter_names_parameter_and_unit(factory, name, good):
    factory(**{name: good})  # the good value is accepted
    with pytest.raises(ValueError, match=rf"^{name} must be .*{unit_name(good)}.*no unit"):
        factory(**{name: float(np.asarray(good / good.get_best_unit()))})


@pytest.mark.parametrize("factory, name, good", QUANTITY_PARAMS, ids=IDS)
def test_wrong_unit_parameter_names_parameter_and_unit(factory, name, good):
    wrong = 3 * nA
    with pytest.raises(ValueError, match=rf"^{name} must be .*in {unit_name(good)}"):
        factory(**{name: wrong})


@pytest.mark.parametrize("factory, name, good", QUANTITY_PARAMS, ids=IDS)
def test_nan_parameter_names_parameter_and_unit(factory, name, good):
    for bad in (np.nan * good.get_best_unit(), np.inf * good.get_best_unit()):
        with pytest.raises(ValueError, match=rf"^{name} must be a finite .*{unit_name(good)}"):
            factory(**{name: bad})


@pytest.mark.parametrize(
    "factory, name",
    [(PairSTDP, "A_plus"), (PairSTDP, "mu_minus"), (TripletSTDP, "A3_plus"),
     (DiehlCookSTDP, "nu_pre"), (DiehlCookSTDP, "w_max"), (IFNeuron, "v_thresh")],
)
def test_number_parameters_must_be_finite_dimensionless(factory, name):
    with pytest.raises(ValueError, match=rf"^{name} must be a finite dimensionless number"):
        factory(**{name: float("nan")})
    with pytest.raises(ValueError, match=rf"^{name} must be a dimensionless number"):
        factory(**{name: 0.01 * ms})
    with pytest.raises(ValueError, match=rf"^{name} must be a number"):
        factory(**{name: "large"})


@pytest.mark.parametrize(
    "factory, name",
    [(PairSTDP, "tau_plus"), (TripletSTDP, "tau_y"), (DiehlCookSTDP, "tau_pre"),
     (CurrentLIF, "tau_syn"), (ConductanceLIF, "tau_theta"), (IFNeuron, "step")],
)
def test_time_constants_must_be_positive(factory, name):
    for bad in (0 * ms, -5 * ms):
        with pytest.raises(ValueError, match=rf"^{name} must be a positive time in ms"):
            factory(**{name: bad})


def test_refractory_may_be_zero_but_not_negative():
    CurrentLIF(refractory=0 * ms)
    with pytest.raises(ValueError, match=r"^refractory must be a non-negative time in ms"):
        ConductanceLIF(refractory=-1 * ms)


def test_unknown_triplet_preset():
    with pytest.raises(ValueError, match=r"unknown triplet preset 'visual-xx'.*visual-aa-full"):
        TripletSTDP.preset("visual-xx")


@pytest.mark.parametrize("factory", [PairSTDP, TripletSTDP, DiehlCookSTDP])
def test_bad_scheme(factory):
    with pytest.raises(ValueError, match=r"^scheme must be one of .*all-to-all.*nearest"):
        factory(scheme="nearest-spike")


def test_rule_consistency_checks():
    with pytest.raises(ValueError, match=r"w_min must be below w_max"):
        PairSTDP(w_min=1.0, w_max=0.5)
    with pytest.raises(ValueError, match=r"w_max is needed"):
        PairSTDP(w_max=None, mu_plus=1.0)
    with pytest.raises(ValueError, match=r"tau_x is needed"):
        TripletSTDP(tau_x=None, A3_minus=1e-3)
    with pytest.raises(ValueError, match=r"reset_mode must be 'subtract' or 'zero'"):
        IFNeuron(reset_mode="to-zero")


def test_replay_rejects_off_grid_times():
    with pytest.raises(ValueError, match=r"^pre_times are not on the simulation grid"):
        replay(PairSTDP(), [1.05] * ms, [2.0] * ms, dt=0.1 * ms)
    with pytest.raises(ValueError, match=r"^post_times are not on the simulation grid"):
        replay(PairSTDP(), [1.0] * ms, [2.0, 2.5] * ms, dt=1 * ms)


def test_replay_rejects_two_spikes_in_one_step():
    with pytest.raises(ValueError, match=r"^post_times has two spikes in one time step"):
        replay(PairSTDP(), [1.0] * ms, [2.0, 3.0, 2.0] * ms)


@pytest.mark.parametrize(
    "times, pattern",
    [
        ([1.0, 2.0], r"^pre_times must be a quantity in s, .*no unit"),
        ("1 ms", r"^pre_times must be a quantity in s, .*no unit"),
        ([1.0, 2.0] * mV, r"^pre_times must be a quantity in s"),
        ([5.0] * Hz, r"^pre_times must be a quantity in s"),
        ([np.nan] * ms, r"^pre_times must be a finite quantity in s"),
        ([-1.0] * ms, r"^pre_times must be non-negative"),
        ([[1.0], [2.0]] * ms, r"^pre_times must be a 1-D array"),
    ],
)
def test_replay_rejects_non_time_input(times, pattern):
    with pytest.raises(ValueError, match=pattern):
        replay(PairSTDP(), times, [2.0] * ms)


def test_replay_checks_dt_and_w0():
    with pytest.raises(ValueError, match=r"^dt must be a quantity in ms, .*no unit"):
        replay(PairSTDP(), [1.0] * ms, [2.0] * ms, dt=0.1)
    for bad in (0 * ms, -0.1 * ms):
        with pytest.raises(ValueError, match=r"^dt must be a positive time in ms"):
            replay(PairSTDP(), [1.0] * ms, [2.0] * ms, dt=bad)
    with pytest.raises(ValueError, match=r"^w0 must be a finite dimensionless number"):
        replay(PairSTDP(), [1.0] * ms, [2.0] * ms, w0=float("nan"))


def test_every_rule_renders_with_one_signature_and_an_old_one_is_refused_at_definition():
    from dataclasses import dataclass

    from brainlearn.plasticity import (
        ClopathSTDP,
        EquationRule,
        GraupnerBrunelSTDP,
        PlasticityRule,
        SynapseCode,
    )

    # every built-in rule takes the step by keyword, whether its code depends on it or not
    for rule in (PairSTDP(), TripletSTDP(), DiehlCookSTDP(), ClopathSTDP(), GraupnerBrunelSTDP(),
                 EquationRule(model="w : 1", on_pre="w += 0.1")):
        code = rule.render("ge_post += w", dt=0.1 * ms)
        assert isinstance(code, SynapseCode) and code.on_pre.startswith("ge_post += w")

    with pytest.raises(TypeError, match=r"OldRule.render takes \(on_pre_effect\).*dt=None"):
        @dataclass(frozen=True)
        class OldRule(PlasticityRule):
            A: float = 0.1

            def render(self, on_pre_effect: str = "") -> SynapseCode:
                return SynapseCode("w : 1", on_pre_effect, "", {})
