"""Named rule configurations for protocols and the CLI (``--rule`` / ``--preset``).

Fits to the published data compare fractional changes at ``w0 = 1`` with no upper bound in
the way, so the additive rules here have ``w_max=None`` and Diehl & Cook a far bound
(``w_max=1000``). The multiplicative pair rule needs a bound: ``w_max=2`` puts ``w0 = 1`` in
the middle (``f_+ = f_- = 1/2``), and its amplitudes are doubled so that its changes at
``w0 = 1`` start equal to the additive rule's.
"""

from __future__ import annotations

from brainlearn.plasticity import (
    TRIPLET_PRESETS,
    ClopathSTDP,
    DiehlCookSTDP,
    GraupnerBrunelSTDP,
    PairSTDP,
    PlasticityRule,
    TripletSTDP,
)

__all__ = ["RULE_NAMES", "SLOW_RULES", "TRIPLET_PRESETS", "make_rule", "all_rules", "amplitude_names"]

RULE_NAMES = ("pair", "pair-nearest", "pair-multiplicative", "triplet", "diehl-cook", "clopath", "graupner-brunel")

#: rules that run on their own (long) simulations: a neuron at dt 0.1 ms, or noise lanes
SLOW_RULES = ("clopath", "graupner-brunel")


def make_rule(name: str, preset: str | None = None) -> PlasticityRule:
    """Build a named rule configuration.

    Parameters
    ----------
    name : str
        ``pair`` (additive, all-to-all), ``pair-nearest``, ``pair-multiplicative``
        (weight-dependent, mu = 1), ``triplet`` (with ``preset``), ``diehl-cook``, ``clopath``
        (Clopath et al. 2010, visual cortex, on its AdEx neuron) or ``graupner-brunel``
        (Graupner & Brunel 2012, DP set, 100 noisy synapses per start state, seed 0).
    preset : str, optional
        Triplet parameter set (default ``visual-aa-minimal``); only for ``triplet``.
    """
    if preset is not None and name != "triplet":
        raise ValueError(f"a preset only applies to the triplet rule, not {name!r}")
    if name == "pair":
        return PairSTDP(w_max=None)
    if name == "pair-nearest":
        return PairSTDP(w_max=None, scheme="nearest")
    if name == "pair-multiplicative":
        return PairSTDP(A_plus=0.02, A_minus=0.021, w_max=2.0, mu_plus=1.0, mu_minus=1.0)
    if name == "triplet":
        return TripletSTDP.preset(preset or "visual-aa-minimal")
    if name == "diehl-cook":
        return DiehlCookSTDP(w_max=1000.0)
    if name == "clopath":
        return ClopathSTDP(w_max=None)
    if name == "graupner-brunel":
        return GraupnerBrunelSTDP()
    raise ValueError(f"unknown rule {name!r}; choose from {', '.join(RULE_NAMES)}")


def all_rules(slow: bool = True) -> dict[str, PlasticityRule]:
    """Every rule configuration by label (``triplet:<preset>`` for each preset); ``slow=False``
    leaves out :data:`SLOW_RULES`."""
    rules = {}
    for name in RULE_NAMES:
        if not slow and name in SLOW_RULES:
            continue
        if name == "triplet":
            for preset in TRIPLET_PRESETS:
                rules[f"triplet:{preset}"] = make_rule(name, preset)
        else:
            rules[name] = make_rule(name)
    return rules


def amplitude_names(rule: PlasticityRule) -> list[str]:
    """The rule's non-zero amplitude parameters (the natural free parameters of a fit)."""
    if isinstance(rule, PairSTDP):
        return ["A_plus", "A_minus"]
    if isinstance(rule, DiehlCookSTDP):
        return ["nu_pre", "nu_post"]
    if getattr(rule, "needs_voltage", False):
        return ["A_LTD", "A_LTP"]
    if getattr(rule, "stochastic", False):
        return ["gamma_p", "gamma_d"]  # Graupner & Brunel: potentiation and depression rates
    names = ["A2_plus", "A3_plus", "A2_minus", "A3_minus"]
    return [n for n in names if getattr(rule, n) != 0 and not (n == "A2_plus" and rule.A2_plus < 1e-6)]
