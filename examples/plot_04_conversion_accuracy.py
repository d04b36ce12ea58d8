"""
Converted SNN: accuracy against the number of time steps T
==========================================================

A 784-100-10 ReLU network is trained in numpy on the 1,000 embedded training images, then
converted to integrate-and-fire neurons (Rueckauer et al. 2017: weights normalised by the
99.9th percentile of each layer's activations, reset by subtraction) and run in Brian2 on the
500 embedded test images. The spike-count decision after T steps approaches the ANN's
accuracy as T grows; one simulation gives every T, because the network is causal. Analog
input (a constant current) converges faster than Poisson spike input.
"""

import matplotlib.pyplot as plt
from brian2 import prefs

from brainlearn.data import load_mnist
from brainlearn.lanes import preprocess
from brainlearn.models.conversion import evaluate, train_mlp

train_images, train_labels = load_mnist("train", source="embedded")
test_images, test_labels = load_mnist("test", source="embedded")
x_train = preprocess(train_images)

mlp = train_mlp(x_train, train_labels, hidden=(100,), epochs=10, seed=0)
print(f"ANN test accuracy: {100 * mlp.score(preprocess(test_images), test_labels):.1f} %")

target, prefs.codegen.target = prefs.codegen.target, "numpy"  # small network: no compiling
try:
    table = evaluate(mlp, test_images, test_labels, x_train, steps=(4, 8, 16, 32, 64, 128),
                     inputs=("analog", "poisson"), device="runtime", seed=0)
finally:
    prefs.codegen.target = target

fig, ax = plt.subplots(figsize=(6, 4))
for name, part in table.groupby("input"):
    ax.plot(part["steps"], 100 * part["accuracy"], "o-", label=f"SNN, {name} input")
ax.axhline(100 * table["ann_accuracy"].iloc[0], color="k", ls="--", label="ANN")
ax.set(xscale="log", xlabel="time steps T", ylabel="test accuracy (%)",
       title="converted 784-100-10 network, 500 test images")
ax.set_xticks(sorted(table["steps"].unique()), labels=sorted(table["steps"].unique()))
ax.legend()

# %%
# The table behind the figure (one row per T and input):

table[["input", "steps", "accuracy", "ann_accuracy", "rate_accuracy", "spikes_per_example"]]
