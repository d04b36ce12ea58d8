"""The tutorials reproduced by name: every training setting of each, and how overrides combine.

- ``"snntorch-tutorial5"``: snnTorch's tutorial 5 (J. K. Eshraghian et al. 2023, Proc. IEEE
  111:1016): 784-1000-10, ``Leaky`` with beta 0.95, 25 steps, the image as a constant current,
  ATan surrogate, cross-entropy on the membrane at every step, Adam 5e-4, batch 128, one epoch
  (93.87 % in the tutorial).
- ``"spikingjelly-single"``: SpikingJelly's ``activation_based/examples/lif_fc_mnist.py``
  (W. Fang et al. 2023, Sci. Adv. 9:eadi1480): 784-10 without bias,
  :class:`~brainlearn.neurons.SpikingJellyLIF` (``tau = 2``, input decayed, hard reset to 0
  with the gradient through the reset), ATan surrogate, per-step Bernoulli ("Poisson") input
  spikes, MSE between the output firing rate and the one-hot label, Adam 1e-3, batch 64,
  T = 100: 92.9 % (best test accuracy of 100 epochs) in its tutorial.
- ``"spikingjelly-two-layer"``: the older SpikingJelly README / clock-driven tutorial network,
  784-196-10 without bias, ``LIFNode(tau=100)`` (100 ms with 1 ms steps) and its default
  sigmoid surrogate (alpha 4), the same input, loss and optimiser: "92 %".
"""

from __future__ import annotations

__all__ = ["PRESETS", "MODEL_NAMES", "resolve_settings"]

#: Every setting of the tutorials reproduced by name (see the module docstring).
PRESETS: dict[str, dict] = {
    "snntorch-tutorial5": dict(
        hidden=(1000,), neuron="snntorch", beta=0.95, tau=None, decay_input=None, reset=None,
        detach_reset=None, threshold=1.0, steps=25, surrogate="atan", surrogate_scale=2.0,
        loss="membrane_ce", lr=5e-4, batch_size=128, epochs=1, encoder="static", bias=True),
    "spikingjelly-single": dict(
        hidden=(), neuron="spikingjelly", beta=None, tau=2.0, decay_input=True, reset="zero",
        detach_reset=False, threshold=1.0, steps=100, surrogate="atan", surrogate_scale=2.0,
        loss="rate_mse", lr=1e-3, batch_size=64, epochs=100, encoder="poisson", bias=False),
    "spikingjelly-two-layer": dict(
        hidden=(196,), neuron="spikingjelly", beta=None, tau=100.0, decay_input=True,
        reset="zero", detach_reset=False, threshold=1.0, steps=100, surrogate="sigmoid",
        surrogate_scale=4.0, loss="rate_mse", lr=1e-3, batch_size=64, epochs=100,
        encoder="poisson", bias=False),
}


def resolve_settings(preset: str | None = "snntorch-tutorial5", **overrides) -> dict:
    """Every training setting: the preset's, then each override that is not ``None``.

    Parameters
    ----------
    preset : str, optional
        A name in :data:`PRESETS` (default ``"snntorch-tutorial5"``, the CLI's defaults).
    **overrides
        Settings to change (``None`` keeps the preset's).

    Returns
    -------
    dict
        The settings with ``preset`` added; the settings of the other neuron model are
        ``None``.
    """
    name = preset or "snntorch-tutorial5"
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    settings = dict(PRESETS[name])
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    given = {k for k, v in overrides.items() if v is not None}
    sj_only = sorted(given & {"tau", "decay_input", "reset", "detach_reset"})
    if settings["neuron"] == "spikingjelly" and "beta" in given:
        raise ValueError("beta is the snntorch neuron's decay; the spikingjelly neuron takes "
                         "tau (beta = 1 - 1/tau)")
    if settings["neuron"] == "snntorch" and sj_only:
        raise ValueError(f"{', '.join(sj_only)} belong to the spikingjelly neuron; add "
                         "neuron='spikingjelly' (--neuron spikingjelly)")
    if settings["neuron"] == "spikingjelly":
        defaults = PRESETS["spikingjelly-single"]
        for key in ("tau", "decay_input", "reset", "detach_reset"):
            if settings[key] is None:
                settings[key] = defaults[key]
        settings["beta"] = None
    elif settings["neuron"] == "snntorch":
        if settings["beta"] is None:
            settings["beta"] = PRESETS["snntorch-tutorial5"]["beta"]
        settings.update(tau=None, decay_input=None, reset=None, detach_reset=None)
    settings["hidden"] = tuple(int(h) for h in settings["hidden"])
    return {"preset": name, **settings}



#: the registry name (:data:`brainlearn.models.MODELS`) of the runs of each preset
MODEL_NAMES = {"snntorch-tutorial5": "surrogate-mlp", "spikingjelly-single": "spikingjelly-single",
               "spikingjelly-two-layer": "spikingjelly-two-layer"}
