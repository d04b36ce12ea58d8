"""
STDP window: the Bi & Poo (1998) protocol
=========================================

Bi & Poo paired a presynaptic and a postsynaptic spike 60 times at 1 Hz, for intervals
``dt = t_post - t_pre`` between about -100 and +100 ms, and measured the change of the
synaptic strength. :func:`brainlearn.protocols.bi_poo` runs that protocol on one synapse
per interval, all in one Brian2 run, and fits ``A exp(-|dt| / tau)`` on each side.

No digitised Bi & Poo data points ship with brainlearn. What is compared with the data here
is the shape of the window: the exponential fits to Bi & Poo's measurements have time
constants tau+ = 16.8 ms (potentiation) and tau- = 33.7 ms (depression) (Bi & Poo 2001),
the defaults of :class:`brainlearn.plasticity.PairSTDP`.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from brainlearn.protocols import bi_poo, make_rule
from brainlearn.protocols.plots import plot_window

pair = bi_poo(make_rule("pair"))
fig = plot_window(pair, title="additive pair STDP, Bi & Poo protocol")

# %%
# The window of three rules against the shape of the fits to the data
# --------------------------------------------------------------------
# Each window is divided by its largest change, so that the shapes can be compared with the
# fitted exponentials (dashed and dotted). The triplet rule (pair term A2+ ~ 0) and the
# Diehl & Cook rule potentiate only when a post spike follows another one closely (their
# potentiation is gated by a slow post trace): with isolated pairs at 1 Hz they only depress.

rules = {
    "pair (additive)": make_rule("pair"),
    "triplet, visual-nn-minimal": make_rule("triplet", "visual-nn-minimal"),
    "Diehl & Cook": make_rule("diehl-cook"),
}
windows = {name: bi_poo(rule) for name, rule in rules.items()}

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.axhline(0, color="0.7", lw=0.8)
ax.axvline(0, color="0.7", lw=0.8)
for name, window in windows.items():
    frame = window.frame
    ax.plot(frame["dt_ms"], frame["dw"] / np.abs(frame["dw"]).max(), "o-", ms=3, lw=1,
            label=name)
x = np.linspace(0, 100, 200)
ax.plot(x, np.exp(-x / 16.8), "k--", lw=1.5, label="fit to Bi & Poo: tau+ = 16.8 ms")
ax.plot(-x, -np.exp(-x / 33.7), "k:", lw=1.5, label="fit to Bi & Poo: tau- = 33.7 ms")
ax.set(xlabel="dt = t_post - t_pre (ms)", ylabel="dw / max |dw|",
       title="STDP windows, 60 pairs at 1 Hz")
ax.legend(fontsize=7)

# %%
# The fitted parameters of each rule's window (``A`` is the change after 60 pairs):

pd.DataFrame({name: window.params for name, window in windows.items()}).T.round(4)
