"""Independent reference for the Clopath et al. (2010) rule on its AdEx neuron: a plain-Python
time-stepped integration of the equations in the docstrings of
``brainlearn.neurons.ClopathAdEx`` and ``brainlearn.plasticity.voltage``.

Only parameter values are read from the model objects. One time step ``n`` does, in this
order (the order the docstrings state):

1. if the last spike was ``t_clamp / dt`` steps ago, ``v = V_reset`` (end of the spike clamp);
2. forward-Euler step of ``v, w_ad`` (frozen while clamped), ``z``, ``V_T``, ``u_minus``,
   ``u_plus`` from the old values; exact decay ``xbar *= exp(-dt / tau_x)``;
3. spike if ``v > V_peak`` and not clamped;
4. presynaptic spike: ``v += w * epsp``, LTD with the delayed ``u_minus``, ``xbar += 1/tau_x``;
   then a kick (``v += kick``) one step before each requested post spike; both inputs are
   ignored while the neuron is clamped (from its spike on), as Brian2 does for a variable
   marked ``(unless refractory)`` and NEST for a refractory neuron;
5. reset of a spike: ``v = V_clamp, w_ad += b, z = I_sp, V_T = V_T_max``;
6. LTP with ``v`` and the delayed ``u_plus``, then the delay registers move on.
"""

from __future__ import annotations

import math
from collections import deque

from brian2 import amp, farad, mV, second, siemens, volt

__all__ = ["clopath_reference"]


def _f(q, unit) -> float:
    return float(q / unit)


def clopath_reference(rule, neuron, pre_steps, kick_steps, w0: float, dt_s: float, n_steps: int,
                      epsp_v: float, kick_v: float) -> dict:
    """Integrate one lane; return per-step arrays (SI units) recorded at the end of each step."""
    C, gL, EL = _f(neuron.C, farad), _f(neuron.g_L, siemens), _f(neuron.E_L, volt)
    VTr, DT, tw = _f(neuron.V_T_rest, volt), _f(neuron.Delta_T, volt), _f(neuron.tau_w, second)
    a, b, Isp = _f(neuron.a, siemens), _f(neuron.b, amp), _f(neuron.I_sp, amp)
    tz, VTm, tVT = _f(neuron.tau_z, second), _f(neuron.V_T_max, volt), _f(neuron.tau_VT, second)
    Vpk, Vcl, Vrs = _f(neuron.V_peak, volt), _f(neuron.V_clamp, volt), _f(neuron.V_reset, volt)
    k_clamp = int(round(_f(neuron.t_clamp, second) / dt_s))
    A_LTD, A_LTP = float(rule.A_LTD * mV) / 1e-3, float(rule.A_LTP * mV**2) / 1e-6
    th_m, th_p = _f(rule.theta_minus, volt), _f(rule.theta_plus, volt)
    tx, tm, tp = _f(rule.tau_x, second), _f(rule.tau_minus, second), _f(rule.tau_plus, second)
    k_delay = int(round(_f(rule.delay, second) / dt_s))
    lo = float(rule.w_min)
    hi = math.inf if rule.w_max is None else float(rule.w_max)
    pre_set, kick_set = set(int(s) for s in pre_steps), set(int(s) for s in kick_steps)

    v, wad, z, VT, um, up = EL, 0.0, 0.0, VTr, EL, EL
    reg_m = deque([EL] * k_delay, maxlen=max(k_delay, 1))
    reg_p = deque([EL] * k_delay, maxlen=max(k_delay, 1))
    xbar, w = 0.0, float(w0)
    last = None
    decay = math.exp(-dt_s / tx)
    out = {k: [] for k in ("v", "u_minus", "u_plus", "xbar", "w")}
    spikes = []
    for n in range(n_steps):
        if last is not None and n - last == k_clamp:
            v = Vrs
        clamped = last is not None and n - last < k_clamp
        dv = (-gL * (v - EL) + gL * DT * math.exp((v - VT) / DT) - wad + z) / C
        dwad = (a * (v - EL) - wad) / tw
        new_v = v if clamped else v + dt_s * dv
        wad = wad if clamped else wad + dt_s * dwad
        z, VT = z + dt_s * (-z / tz), VT + dt_s * (VTr - VT) / tVT
        um, up = um + dt_s * (v - um) / tm, up + dt_s * (v - up) / tp
        v = new_v
        xbar *= decay
        spike = (not clamped) and v > Vpk
        if spike:
            last = n
            spikes.append(n)
            clamped = True
        um_del = reg_m[0] if k_delay else um
        up_del = reg_p[0] if k_delay else up
        if n in pre_set:
            if not clamped:
                v += w * epsp_v
            w = min(max(w - A_LTD * max(um_del - th_m, 0.0), lo), hi)
            xbar += 1.0 / tx
        if n in kick_set and not clamped:
            v += kick_v
        if spike:
            v, wad, z, VT = Vcl, wad + b, Isp, VTm
        w = min(max(w + A_LTP * xbar * dt_s * max(v - th_p, 0.0) * max(up_del - th_m, 0.0), lo), hi)
        if k_delay:
            reg_m.append(um)  # the oldest entry (k_delay steps back) drops out
            reg_p.append(up)
        for key, value in (("v", v), ("u_minus", um), ("u_plus", up), ("xbar", xbar), ("w", w)):
            out[key].append(value)
    out["spikes"] = spikes
    return out
