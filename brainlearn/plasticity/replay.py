"""Replay: one synapse driven by given pre- and postsynaptic spike times, its weight recorded.

The reference-replay tests (``tests/test_plasticity_replay.py``) run every rule through
:func:`replay` and through an independent event-by-event reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from brian2 import ms, second

from brainlearn.plasticity.base import PlasticityRule, SynapseCode
from brainlearn.plasticity.voltage import replay_voltage
from brainlearn.units import check_number, check_quantity

__all__ = ["replay"]


def _spike_steps(name: str, times, dt) -> np.ndarray:
    check_quantity(name, times, second, allow_array=True)
    values = np.atleast_1d(np.asarray(times / dt, dtype=float))
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of times, got shape {values.shape}")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative times")
    steps = np.round(values)
    if np.any(np.abs(values - steps) > 1e-6):
        raise ValueError(f"{name} are not on the simulation grid dt={dt}; pass a smaller dt")
    steps = steps.astype(np.int64)
    if np.unique(steps).size != steps.size:
        raise ValueError(f"{name} has two spikes in one time step (dt={dt})")
    return np.sort(steps)


def _post_group(code: SynapseCode, post_steps: np.ndarray, n_steps: int, dt):
    """The post-synaptic side of ``replay``: spikes at ``post_steps``, with the rule's
    post-synaptic state (``code.post_model``) where it has any."""
    from brian2 import NeuronGroup, SpikeGeneratorGroup, TimedArray

    if not code.post_model:
        return SpikeGeneratorGroup(1, np.zeros(post_steps.size, int), post_steps * dt, dt=dt)
    train = np.zeros(n_steps + 1)
    train[post_steps] = 1.0
    return NeuronGroup(
        1, code.post_model, threshold="post_train(t) > 0.5", reset=code.post_reset,
        method=code.post_method, dt=dt,
        namespace={**code.post_namespace, "post_train": TimedArray(train, dt=dt)},
    )


def replay(rule: PlasticityRule, pre_times, post_times, w0: float = 0.5, dt=0.1 * ms) -> pd.DataFrame:
    """Drive one synapse with given pre and post spike times and record its weight.

    The synapse runs the code the rule renders (``rule.render(dt=dt)``); a rule that keeps
    state on the post-synaptic cell (``SynapseCode.post_model``, e.g. Diehl & Cook's post
    traces) gets a post-synaptic group with that state, its reset and its integration
    method, made to spike at ``post_times``.

    Parameters
    ----------
    rule : PlasticityRule
        The learning rule.
    pre_times, post_times : Quantity
        Spike times (arrays of Brian2 times, on the ``dt`` grid).
    w0 : float
        Initial weight.
    dt : Quantity
        Simulation time step.

    Returns
    -------
    pandas.DataFrame
        One row per spike event in time order (``pre`` before ``post`` at equal times, the
        order Brian2 processes them): ``t`` (seconds), ``kind`` (``"pre"``/``"post"``),
        ``w`` (the weight right after that event). A rule that reads the membrane potential
        (``needs_voltage``, Clopath et al. 2010) drives its neuron instead:
        :func:`brainlearn.plasticity.voltage.replay_voltage`.
    """
    if getattr(rule, "needs_voltage", False):
        return replay_voltage(rule, pre_times, post_times, w0=w0, dt=dt)
    from brian2 import (
        Network,
        SpikeGeneratorGroup,
        StateMonitor,
        Synapses,
        get_device,
        prefs,
    )
    from brian2.devices.device import RuntimeDevice

    check_quantity("dt", dt, ms)
    if not dt > 0 * ms:
        raise ValueError(f"dt must be a positive time in ms, got {dt!r}")
    w0 = check_number("w0", w0)
    if not isinstance(get_device(), RuntimeDevice):
        raise RuntimeError("replay runs in Brian2 runtime mode; call set_device('runtime') first")
    pre_steps = _spike_steps("pre_times", pre_times, dt)
    post_steps = _spike_steps("post_times", post_times, dt)
    n_steps = int(max(pre_steps.max(initial=0), post_steps.max(initial=0))) + 2

    code = rule.render(dt=dt)
    old_target = prefs.codegen.target
    prefs.codegen.target = "numpy"
    try:
        pre = SpikeGeneratorGroup(1, np.zeros(pre_steps.size, int), pre_steps * dt, dt=dt)
        post = _post_group(code, post_steps, n_steps, dt)
        syn = Synapses(
            pre,
            post,
            model=code.model + "\nw_at_pre_event : 1\nw_at_post_event : 1",
            on_pre=code.on_pre + "\nw_at_pre_event = w",
            on_post=code.on_post + "\nw_at_post_event = w",
            namespace=dict(code.namespace),
            dt=dt,
        )
        syn.connect()
        syn.w = w0
        for name, value in code.initial.items():
            setattr(syn, name, value)
        mon = StateMonitor(syn, ["w_at_pre_event", "w_at_post_event"], record=0, when="end", dt=dt)
        Network(pre, post, syn, mon).run(n_steps * dt)
        w_pre = np.asarray(mon.w_at_pre_event[0])
        w_post = np.asarray(mon.w_at_post_event[0])
    finally:
        prefs.codegen.target = old_target

    frame = pd.DataFrame(
        {
            "step": np.concatenate([pre_steps, post_steps]),
            "order": np.r_[np.zeros(pre_steps.size, int), np.ones(post_steps.size, int)],
            "w": np.concatenate([w_pre[pre_steps], w_post[post_steps]]),
        }
    )
    frame = frame.sort_values(["step", "order"], kind="stable").reset_index(drop=True)
    frame.insert(0, "t", frame["step"] * float(dt / second))
    frame.insert(1, "kind", np.where(frame["order"] == 0, "pre", "post"))
    return frame[["t", "kind", "w"]]
