"""``implicit_euler``: the linearly implicit Euler step, checked against its formula and physics.

The membrane of a conductance-based cell, ``dv/dt = ((v_rest - v) + ge (E_exc - v)
+ gi (E_inh - v)) / tau_m``, is linear in ``v`` with the rate ``A = -(1 + ge + gi) / tau_m``.
The method steps it as ``v' = (v + dt B) / (1 - dt A)`` with the conductances of the step's
start, and integrates the conductances' fixed-rate decay exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Equations, Network, StateMonitor, ms, mV
from brian2.stateupdaters.base import UnsupportedEquationsException
from scipy.integrate import solve_ivp

from brainlearn.devices import use_device
from brainlearn.integration import implicit_euler
from brainlearn.neurons import ConductanceLIF

CELL = ConductanceLIF(v_thresh=1000 * mV)  # no spikes: the membrane equation alone
DT = 0.5 * ms
STEPS = 200
TAU_M, V_REST, E_EXC, E_INH = 0.1, -0.065, 0.0, -0.1  # seconds, volts
TAU_GE, TAU_GI = 1e-3, 2e-3
# conductance kicks (step, ge, gi): weak drive, then inhibition far past Euler's limit
KICKS = [(0, 2.0, 0.0), (40, 30.0, 5.0), (90, 0.0, 3400.0), (150, 60.0, 0.0)]


def _simulate(method: str) -> np.ndarray:
    """The membrane potential at the start of every step, in volts."""
    with use_device("runtime"):
        cell = CELL.group(1, dt=DT, method=method)
        cell.v = -65 * mV
        # each kick lands at the start of its step, before the state update
        cell.run_regularly("\n".join(
            f"ge += {ge} * int(abs(t - {s} * dt) < 0.5 * dt)\n"
            f"gi += {gi} * int(abs(t - {s} * dt) < 0.5 * dt)"
            for s, ge, gi in KICKS
        ), when="start")
        v = StateMonitor(cell, "v", record=0, when="start", order=1)
        Network(cell, v).run(STEPS * DT)
        return np.asarray(v.v_[0])


def _conductances():
    """ge and gi at the start of every step, as the reference sees them (exact decay)."""
    ge, gi = np.zeros(STEPS), np.zeros(STEPS)
    g_e = g_i = 0.0
    for n in range(STEPS):
        for s, dge, dgi in KICKS:
            if s == n:
                g_e, g_i = g_e + dge, g_i + dgi
        ge[n], gi[n] = g_e, g_i
        g_e *= np.exp(-float(DT) / TAU_GE)
        g_i *= np.exp(-float(DT) / TAU_GI)
    return ge, gi


def test_implicit_euler_steps_the_membrane_by_its_formula():
    v = _simulate("implicit_euler")
    ge, gi = _conductances()
    dt = float(DT)
    ref = np.empty(STEPS)
    ref[0] = -0.065
    for n in range(STEPS - 1):
        b = (V_REST + ge[n] * E_EXC + gi[n] * E_INH) / TAU_M
        a = (1 + ge[n] + gi[n]) / TAU_M
        ref[n + 1] = (ref[n] + dt * b) / (1 + dt * a)
    np.testing.assert_allclose(v, ref, rtol=1e-12, atol=0)


def test_implicit_euler_is_stable_where_forward_euler_is_not():
    implicit, euler = _simulate("implicit_euler"), _simulate("euler")
    # the exact membrane never leaves [E_inh, E_exc]: forward Euler does, the implicit step not
    def inside(v):
        return np.all((v >= E_INH - 1e-12) & (v <= E_EXC + 1e-12))

    assert not inside(euler) and np.abs(euler).max() > 0.5  # hundreds of mV off
    assert inside(implicit)


def _fine_solution() -> np.ndarray:
    """The membrane with continuously decaying conductances, Radau to 1e-10 (scipy)."""
    ge, gi = _conductances()
    dt = float(DT)

    def rhs(t, v):
        n = min(int(t / dt), STEPS - 1)
        g_e = ge[n] * np.exp(-(t - n * dt) / TAU_GE)
        g_i = gi[n] * np.exp(-(t - n * dt) / TAU_GI)
        return [((V_REST - v[0]) + g_e * (E_EXC - v[0]) + g_i * (E_INH - v[0])) / TAU_M]

    fine = [-0.065]
    for n in range(STEPS - 1):
        sol = solve_ivp(rhs, (n * dt, (n + 1) * dt), [fine[-1]], rtol=1e-10, atol=1e-12,
                        method="Radau")
        fine.append(sol.y[0, -1])
    return np.array(fine)


def test_implicit_euler_is_as_accurate_as_exponential_euler():
    """Against the exact membrane, at the paper's dt.

    Both methods hold the conductances of a step's start through the step (tau_ge is 1 ms,
    dt 0.5 ms), which dominates their error under strong drive; the implicit step must not
    add to it. Under weak drive (A dt about 0.015) the two steps differ by O((A dt)^2).
    """
    fine = _fine_solution()
    implicit, exponential = _simulate("implicit_euler"), _simulate("exponential_euler")
    err_implicit = np.abs(implicit - fine).max()
    err_exponential = np.abs(exponential - fine).max()
    assert err_implicit <= err_exponential + 0.5e-3
    weak = slice(0, KICKS[1][0])
    np.testing.assert_allclose(implicit[weak], exponential[weak], rtol=0, atol=0.02e-3)


def test_implicit_euler_rejects_what_it_cannot_solve():
    with pytest.raises(UnsupportedEquationsException, match="stochastic"):
        implicit_euler(Equations("dv/dt = -v / (10*ms) + xi / sqrt(ms) : 1"))
