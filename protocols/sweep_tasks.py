"""The protocol experiments a parameter sweep runs (``brainlearn sweep --experiment NAME``).

Registered in :mod:`brainlearn.experiments` when :mod:`brainlearn.protocols` is imported:

==============  ===========================================================================
``protocol``    a rule scored on a bundled plasticity dataset (E of Pfister & Gerstner 2006)
``bi_poo``      the STDP window of a rule and its exponential fit
``song``        Song, Miller & Abbott (2000) competitive learning (bimodality of the weights)
==============  ===========================================================================

Each is ``fn(params, seed, workdir) -> dict`` (see :mod:`brainlearn.experiments`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlearn.experiments import register

__all__: list[str] = []


def _rule(params: dict):
    """A named rule (``rule``, ``preset``) with overrides: numbers as they are, ``*_ms`` times."""
    from brian2 import ms

    from .rules import make_rule

    rule = make_rule(params.pop("rule", "pair"), params.pop("preset", None))
    known = rule.params()
    overrides = {}
    for key in list(params):
        name = key[:-3] if key.endswith("_ms") else key
        if name not in known:
            raise ValueError(f"{key!r} is not a parameter of {type(rule).__name__} (nor of the "
                             f"experiment); the rule has {', '.join(sorted(known))} (times as NAME_ms)")
        value = params.pop(key)
        overrides[name] = float(value) * ms if key.endswith("_ms") else value
    return rule.replace(**overrides) if overrides else rule


_RULE_PARAMS = {
    "rule": "pair | pair-nearest | pair-multiplicative | triplet | diehl-cook (default pair)",
    "preset": "triplet preset",
    "*": "rule parameters: A_plus=0.01, tau_plus_ms=16.8 (times with _ms)",
}


# ------------------------------------------------------------------ the experiments
@register("protocol", "a rule scored on a bundled dataset (fit error E, deterministic)",
          {"dataset": "sjostrom2001 | sjostrom2001_alt | froemke2006 | nevian2006",
           "structure": "bursts | pfister", "target": "numpy | cython", **_RULE_PARAMS})
def _protocol(params: dict, seed: int, workdir: Path) -> dict:
    from .scoring import score

    dataset = params.pop("dataset", "sjostrom2001")
    structure = params.pop("structure", "bursts")
    target = params.pop("target", "numpy")
    rule = _rule(params)
    _no_leftovers("protocol", params)
    result = score(rule, dataset, structure=structure, target=target)
    z = result.points["z"].to_numpy()
    return {"E": result.E, "points": len(z), "max_abs_z": float(np.max(np.abs(z)))}


@register("bi_poo", "the STDP window of a rule (60 pairs at 1 Hz) and its exponential fit",
          {"n_pairs": "60", "target": "numpy | cython", **_RULE_PARAMS})
def _bi_poo(params: dict, seed: int, workdir: Path) -> dict:
    from .experiments import bi_poo

    n_pairs = int(params.pop("n_pairs", 60))
    target = params.pop("target", "numpy")
    rule = _rule(params)
    _no_leftovers("bi_poo", params)
    return dict(bi_poo(rule, n_pairs=n_pairs, target=target).params)


@register("song", "Song, Miller & Abbott 2000: final weight distribution (seeded)",
          {"ratio": "1.05", "duration_s": "100", "n_inputs": "1000", "amplitude": "0.01",
           "device": "runtime | cpp_standalone"})
def _song(params: dict, seed: int, workdir: Path) -> dict:
    from brian2 import second

    from .experiments import song

    device = params.get("device", "runtime")
    result = song(
        ratio=float(params.get("ratio", 1.05)), n_inputs=int(params.get("n_inputs", 1000)),
        duration=float(params.get("duration_s", 100.0)) * second, seed=seed,
        amplitude=float(params.get("amplitude", 0.01)), device=device,
        directory=str(workdir / "build") if device == "cpp_standalone" else None,
    )
    return result.to_frame().iloc[0].to_dict()



def _no_leftovers(name: str, params: dict) -> None:
    if params:
        raise ValueError(f"experiment {name!r}: unknown parameter(s) {', '.join(sorted(params))}")
