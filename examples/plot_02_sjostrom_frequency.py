"""
Frequency dependence: Sjöström, Turrigiano & Nelson (2001)
==========================================================

Pairings at +10 ms (pre before post) and -10 ms at frequencies from 0.1 to 50 Hz, in the
paper's burst structure (5 pairs at the frequency, 15 bursts 10 s apart), scored against
the bundled data with the fit error of Pfister & Gerstner (2006),
``E = mean(((dw_exp - dw_model) / SEM)^2)``.

A pair rule cannot produce the frequency dependence; the triplet rule with Pfister &
Gerstner's nearest-spike visual-cortex parameters shows all four facts of the paper.
"""

import pandas as pd

from brainlearn.protocols import make_rule, sjostrom
from brainlearn.protocols.plots import plot_score

triplet, triplet_facts = sjostrom(make_rule("triplet", "visual-nn-minimal"))
fig = plot_score(triplet, title=f"triplet, visual-nn-minimal: E = {triplet.E:.2f}")

# %%
# The additive pair rule on the same protocol:

pair, pair_facts = sjostrom(make_rule("pair"))
fig = plot_score(pair, title=f"additive pair STDP: E = {pair.E:.2f}")

# %%
# The four qualitative facts of the paper (:func:`brainlearn.protocols.sjostrom_facts`),
# and E, for both rules:

facts = pd.DataFrame({"triplet, visual-nn-minimal": {**triplet_facts, "E": triplet.E},
                      "pair (additive)": {**pair_facts, "E": pair.E}})
facts.round(2)
