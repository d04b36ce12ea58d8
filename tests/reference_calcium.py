"""Independent reference for the Graupner & Brunel (2012) rule: plain-Python integration of the
equations of ``brainlearn.plasticity.calcium`` (noise switched off, ``sigma = 0``).

Only parameter values are read from the rule. One time step ``n``: ``rho`` makes an Euler step
with the calcium at the start of the step; ``c`` decays by ``exp(-dt / tau_Ca)``; a presynaptic
spike of step ``n - D/dt`` adds ``C_pre``, a postsynaptic spike of step ``n`` adds ``C_post``.
"""

from __future__ import annotations

import math

from brian2 import second

__all__ = ["calcium_reference"]


def calcium_reference(rule, pre_steps, post_steps, rho0: float, dt_s: float, n_steps: int) -> dict:
    """Integrate one synapse; per-step ``c`` and ``rho`` recorded at the end of each step."""
    if rule.sigma != 0:
        raise ValueError("the reference is deterministic: use sigma = 0")
    tau_ca, tau = float(rule.tau_Ca / second), float(rule.tau / second)
    k_d = int(round(float(rule.D / second) / dt_s))
    arrivals = {}
    for s in pre_steps:
        arrivals[int(s) + k_d] = arrivals.get(int(s) + k_d, 0) + 1
    posts = set(int(s) for s in post_steps)
    c, rho = 0.0, float(rho0)
    decay = math.exp(-dt_s / tau_ca)
    out_c, out_rho = [], []
    for n in range(n_steps):
        h_p = 1.0 if c > rule.theta_p else 0.0
        h_d = 1.0 if c > rule.theta_d else 0.0
        drift = -rho * (1 - rho) * (rule.rho_star - rho) + rule.gamma_p * (1 - rho) * h_p - rule.gamma_d * rho * h_d
        rho += dt_s * drift / tau
        c *= decay
        c += rule.C_pre * arrivals.get(n, 0)
        if n in posts:
            c += rule.C_post
        out_c.append(c)
        out_rho.append(rho)
    return {"c": out_c, "rho": out_rho}
