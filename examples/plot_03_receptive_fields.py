"""
Receptive fields after a short Diehl & Cook training
====================================================

49 excitatory neurons of the Diehl & Cook (2015) network learn from 400 images of the
embedded MNIST subset (one pass, the paper's parameters), then labels are assigned from the
same 400 images and 200 test images are classified by the neurons' vote. The input weights
of every neuron, drawn as 28 x 28 images, show the digit prototypes STDP has found.

This is far smaller than the paper (6,400 neurons, 3 epochs of 60,000 images): the point is
the mechanism, not the accuracy (see :doc:`/fidelity` for the full-size numbers). Most of
the run time is compiling the training and evaluation networks (``cpp_standalone``).
"""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from brainlearn.analysis.plots import receptive_fields
from brainlearn.models.diehl_cook import TrainConfig, evaluate, train

# one run directory shared with the raster example; compiled builds (build_*) are kept
run_dir = Path(tempfile.gettempdir()) / "brainlearn_gallery" / "diehl_cook_n49"
if run_dir.exists():
    for child in run_dir.iterdir():
        if not child.name.startswith("build_"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()

config = TrainConfig.create(neurons=49, examples=400, seed=0, data="embedded", chunk=400)
train(run_dir, config, progress=False)
metrics = evaluate(run_dir, assign_examples=400, test_examples=200, progress=False)
print(f"vote accuracy on {metrics['test_examples']} test images: "
      f"{100 * metrics['accuracy']:.1f} % (chance 10 %)")
print(f"training: {metrics['ms_per_example']:.1f} ms per image, "
      f"{metrics['presentations']} presentations for {metrics['train_examples']} images")

with np.load(run_dir / "weights.npz") as saved:
    weights, theta = saved["weights"], saved["theta"]
fig = receptive_fields(weights, max_neurons=49)

# %%
# The run directory holds everything the run produced (see :doc:`/rundir`):

print(sorted(p.name for p in run_dir.iterdir()))
print(json.dumps({k: metrics[k] for k in ("neurons", "train_examples", "accuracy")}))
