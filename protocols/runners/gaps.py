"""Shortened silent gaps between the repeated units of a plasticity protocol.

Plasticity experiments repeat a short unit (a pair, a burst) every 1-10 s; a rule simulated
at 0.1 ms spends almost all of that time in silence. Where nothing the rule depends on
changes in the silence (the neuron, filters and traces of Clopath et al. 2010 relax to rest,
and at rest neither its LTD nor its LTP term acts), the silence can be shortened to a few
relaxation times without changing the result beyond the relaxation left over: for the
slowest time constant ``tau_slow`` of a model the difference is of order
``exp(-gap / tau_slow)``. Where a slow variable keeps moving in the silence (the efficacy of
Graupner & Brunel 2012 drifts with ``tau = 150 s``), the runner integrates that drift over
the shortened part with a longer step (see :func:`brainlearn.protocols.runners.calcium.run_calcium_protocol`).

:func:`unit_schedule` says, per protocol, the period to simulate and the factor by which the
silent part was shortened; it reads protocols duck-typed (``pre``, ``post``, ``period``,
``repetitions`` as :class:`brainlearn.protocols.Protocol` has them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import second

from brainlearn.units import check_quantity

__all__ = ["UnitSchedule", "unit_schedule"]


@dataclass(frozen=True)
class UnitSchedule:
    """How one protocol is simulated with a shortened silence (times in seconds).

    ``period``: the simulated period; ``span``: the unit's last spike after its start;
    ``kept``: time simulated after ``span + settle`` in every period (the shortened silence);
    ``stretch``: real silence / kept silence (1: nothing shortened); ``pre``, ``post``: all
    spike times of the repeated unit at the simulated period.
    """

    period: float
    span: float
    kept: float
    stretch: float
    pre: np.ndarray
    post: np.ndarray

    @property
    def shortened(self) -> bool:
        """Whether the silence was shortened."""
        return self.stretch > 1.0


def unit_schedule(protocol, quiet_gap=None, settle=None) -> UnitSchedule:
    """The simulated spike times of ``protocol`` with its silences shortened.

    Parameters
    ----------
    protocol : Protocol
        A protocol (``pre``, ``post`` unit spike times, ``period``, ``repetitions``).
    quiet_gap : Quantity, optional
        Silence kept after ``span + settle`` in every period; ``None`` keeps the protocol as it
        is. A period is only shortened when its silence is longer than ``quiet_gap``.
    settle : Quantity, optional
        Time after the unit's last spike that is always simulated at full length (e.g. while
        calcium is still above a threshold); default 0.

    Returns
    -------
    UnitSchedule
    """
    pre_unit = np.asarray(protocol.pre / second, dtype=float)
    post_unit = np.asarray(protocol.post / second, dtype=float)
    period = float(protocol.period / second)
    span = max(pre_unit.max(initial=0.0), post_unit.max(initial=0.0))
    settle_s = 0.0 if settle is None else float(check_quantity("settle", settle, second) / second)
    stretch, kept = 1.0, period - span - settle_s
    if quiet_gap is not None:
        gap = float(check_quantity("quiet_gap", quiet_gap, second) / second)
        if gap <= 0:
            raise ValueError(f"quiet_gap must be a positive time, got {quiet_gap!r}")
        silence = period - span - settle_s
        if protocol.repetitions > 1 and silence > gap:
            stretch, kept = silence / gap, gap
            period = span + settle_s + gap
    starts = np.arange(protocol.repetitions) * period
    pre = np.sort((starts[:, None] + pre_unit[None, :]).ravel())
    post = np.sort((starts[:, None] + post_unit[None, :]).ravel())
    return UnitSchedule(period, span, kept, stretch, pre, post)
