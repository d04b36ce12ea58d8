"""The presentation controller: image after image, with retries, inside Brian2's generated code.

Diehl & Cook (2015) and the networks that follow them (the LC-SNN of Saunders et al. 2019)
show each image as Poisson spike trains for ``t_input``; an image that evokes fewer than
``min_spikes`` spikes is shown again at a higher intensity, at most ``max_retries`` times.
Here that protocol runs as one cell, the ``controller``, so a whole chunk of images is one
execution of one compiled binary (:class:`brainlearn.chunked.ChunkedSimulation`):

* every ``period`` (from t = 0, before thresholds, first of the presentation-start
  operations) it decides on the presentation that just ended (advance: ``adv``) and starts
  the next one: ``example`` (the image shown), ``intensity`` (the rate multiplier),
  ``t_off`` (end of the input window), ``t_start``; after the last of ``limit`` images it
  stops the network (:func:`brainlearn.devices.stop_network`);
* a synapse onto it counts the spikes (``nspk``) the retry rule looks at;
* the input group reads ``example``, ``intensity`` and ``t_off`` through linked variables
  (:func:`link_input`, with :data:`brainlearn.encoding.START_PRESENTATION`).

The retry rule is the one part that differs between models (:class:`RetryRule`):
:func:`add_intensity` (Diehl & Cook: a new image starts at ``intensity_start``, each retry
adds ``intensity_step``) or :func:`multiply_intensity` (BindsNET's LC-SNN script: a new image
starts at 1, each retry multiplies by ``factor``, and a ``fresh`` flag tells the cells to go
back to rest).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import Clock, NeuronGroup, Quantity, linked_var, second

from brainlearn.devices import stop_network
from brainlearn.encoding import START_PRESENTATION

__all__ = ["RetryRule", "add_intensity", "multiply_intensity", "controller_equations",
           "controller_code", "presentation_controller", "link_input"]

_VARIABLES = ("example", "intensity", "retries", "pending", "nspk", "limit", "capped", "seed",
              "stopped")

# decide on the presentation that just ended: ``adv`` is 1 when it advances to the next image
_DECIDE = """
adv = pending * int(nspk >= min_spikes or retries >= max_retries)
capped += adv * int(nspk < min_spikes)
example += adv
"""

# then start the next presentation (or stop after the last image)
_START = """
pending = int(example < limit)
nspk = 0
t_off = t + t_input * int(example < limit)
t_start = t
stopped = stop_network(example >= limit)
"""


@dataclass(frozen=True)
class RetryRule:
    """How the controller sets ``intensity`` and ``retries`` once it has decided on ``adv``.

    Build one with :func:`add_intensity` or :func:`multiply_intensity`.

    Attributes
    ----------
    name : str
        ``"add"`` or ``"multiply"``.
    code : str
        Brian2 statements run between the decision and the next start (they may read
        ``adv``, ``pending``, ``intensity`` and ``retries``).
    initial : float
        Intensity of the very first presentation.
    namespace : dict
        The constants ``code`` uses.
    variables : tuple of str
        Extra dimensionless controller variables ``code`` writes (``fresh``).
    """

    name: str
    code: str
    initial: float
    namespace: dict = field(default_factory=dict)
    variables: tuple[str, ...] = ()


def add_intensity(start: float, step: float) -> RetryRule:
    """Diehl & Cook's retry rule: a new image at ``start``, each retry ``step`` more.

    ``intensity = adv * start + (1 - adv) * (intensity + pending * step)``; the retry count
    goes back to 0 with a new image and grows by one per retry.
    """
    code = ("intensity = adv * intensity_start + (1 - adv) * (intensity + pending * "
            "intensity_step)\nretries = (1 - adv) * (retries + pending)")
    # the values as given: the generated code declares each constant with its own type
    return RetryRule("add", code, start, {"intensity_start": start, "intensity_step": step})


def multiply_intensity(factor: float) -> RetryRule:
    """The LC-SNN's retry rule (BindsNET's ``crop_locally_connected.py``): a new image at
    intensity 1, each retry ``factor`` times the last.

    ``fresh = 1`` when a new image starts (also at the very first presentation); then
    ``intensity = fresh + (1 - fresh) * intensity * factor`` and
    ``retries = (1 - fresh) * (retries + 1)``. Cells link to ``fresh`` to reset at new images.
    """
    code = ("fresh = int(adv > 0 or pending < 0.5)\n"
            "intensity = fresh + (1 - fresh) * intensity * intensity_factor\n"
            "retries = (1 - fresh) * (retries + 1)")
    return RetryRule("multiply", code, 1.0, {"intensity_factor": factor},
                     variables=("fresh",))


def controller_equations(retry: RetryRule) -> str:
    """The controller's model: every variable dimensionless but ``t_off`` and ``t_start``."""
    names = (*_VARIABLES, *retry.variables)
    return "\n".join([*(f"{n} : 1" for n in names), "t_off : second", "t_start : second"]) + "\n"


def controller_code(retry: RetryRule) -> str:
    """The statements run at the start of every presentation: decide, retry rule, start."""
    return _DECIDE + retry.code + "\n" + _START


def presentation_controller(retry: RetryRule, *, t_input: Quantity, period: Quantity,
                            min_spikes: float, max_retries: float, dt: Quantity | None,
                            name: str = "controller", stop=None, clock: Clock | None = None,
                            period_clock: Clock | None = None) -> NeuronGroup:
    """The one-cell controller group, its operation every ``period`` and its
    ``presentation`` event (one per presentation start, for an ``EventMonitor``).

    Parameters
    ----------
    retry : RetryRule
        :func:`add_intensity` or :func:`multiply_intensity`.
    t_input : Quantity
        Input window of a presentation (``t_off = t + t_input``).
    period : Quantity
        Time from one presentation start to the next (input window plus any rest).
    min_spikes, max_retries : float
        An image advances once it evoked ``min_spikes`` spikes (counted in ``nspk``) or was
        retried ``max_retries`` times (then it counts in ``capped``).
    dt : Quantity or None
        The group's time step (None: the default clock).
    name : str
        Brian2 name of the group.
    stop : brian2.Function, optional
        The function that ends the run after the last image (default
        :func:`brainlearn.devices.stop_network`; a model may pass its own, e.g. one that
        does nothing, to replay a device that cannot stop itself).
    clock, period_clock : brian2.Clock, optional
        Clocks to run on instead of new ones of ``dt`` (give ``dt=None`` then) and
        ``period``: a network whose objects share a few clocks spends less time per step
        choosing which objects run (the frozen Diehl & Cook network).

    Returns
    -------
    NeuronGroup
        Set ``limit`` (images in the run) and ``seed`` per run; ``example``, ``capped``,
        ``intensity`` read back after it.
    """
    namespace = {"min_spikes": min_spikes, "max_retries": max_retries, "t_input": t_input,
                 "stop_network": stop_network if stop is None else stop, **retry.namespace}
    ctl = NeuronGroup(1, controller_equations(retry), name=name, dt=dt, clock=clock,
                      events={"presentation": "abs(t - t_start) < 0.5 * dt"},
                      namespace=namespace)
    ctl.run_regularly(controller_code(retry), when="before_thresholds", order=0,
                      **_every(period, period_clock))
    ctl.intensity = retry.initial
    ctl.t_start = -1 * second
    return ctl


def _every(period: Quantity, clock: Clock | None) -> dict:
    # run_regularly's timing: its own clock of ``period``, or the clock given
    return {"dt": period} if clock is None else {"clock": clock}


def link_input(inp: NeuronGroup, controller: NeuronGroup, period: Quantity,
               clock: Clock | None = None, start: str = START_PRESENTATION) -> None:
    """Let ``inp`` (:func:`brainlearn.encoding.poisson_input_group`) follow the controller:
    ``example``, ``intensity`` and ``t_off`` linked, and its rates set at every presentation
    start (``start``: :data:`~brainlearn.encoding.START_PRESENTATION`, or
    :func:`~brainlearn.encoding.start_presentation` of the group's intervals; after the
    controller), on ``clock`` if given (a clock of ``period``) instead of a new one."""
    zeros = np.zeros(len(inp), dtype=int)
    for var in ("example", "intensity", "t_off"):
        setattr(inp, var, linked_var(controller, var, index=zeros))
    inp.run_regularly(start, when="before_thresholds", order=4,
                      **_every(period, clock))
