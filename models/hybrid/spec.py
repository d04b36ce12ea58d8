"""The registry entry of the STDP + BP hybrid (``stdp-bp-hybrid``).

The hybrid lives in ``RUN/hybrid/`` of an evaluated Diehl & Cook run; its comparison row
counts the STDP layer's training time and parameters with its own. Nothing here imports
PyTorch or Brian2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.models.contract import ModelSpec, register_model

__all__ = ["rows", "owns", "train", "evaluate", "load", "SPEC"]


def rows(run_dir: Path) -> list[dict]:
    """The STDP + BP hybrid of ``RUN/hybrid``: Brian2's accuracy (the trainer's if Brian2 did
    not run), the STDP layer's training time plus the BPTT of the output layer, spikes of both
    layers per inference."""
    run_dir = Path(run_dir)
    if not (run_dir / "results.csv").exists():
        return []
    from brainlearn.models.diehl_cook.spec import input_window

    config = rundir.read_config(run_dir)
    parent = Path(config.get("run_dir", run_dir.parent))
    if not parent.is_dir():
        parent = run_dir.parent
    stdp = rundir.read_metrics(parent)
    n = stdp.get("neurons", config.get("hidden_neurons"))
    t_input, dt = input_window(parent)
    hybrid = rundir.read_metrics(run_dir)
    where = "Brian2" if "accuracy_brian2" in hybrid else "PyTorch"
    return [{
        "method": f"Diehl & Cook STDP, N={n}, + BPTT-trained LIF output layer "
                  f"(STDP + BP hybrid, {config.get('steps')} steps, {where})",
        "accuracy": hybrid.get("accuracy_brian2", hybrid.get("accuracy_trainer")),
        "train_seconds": stdp.get("train_seconds", np.nan) + hybrid.get("train_seconds",
                                                                        np.nan),
        "inference_steps": round(t_input / dt), "sim_ms_per_inference": t_input,
        "spikes_per_inference": hybrid.get("spikes_per_inference", np.nan),
        "parameters": 784 * n + n + hybrid.get("parameters", 10 * n + 10),
        "local_online_learning": "no (STDP layer local; output layer BPTT, offline)",
        "test_examples": hybrid.get("n_examples_brian2", hybrid.get("n_examples_trainer")),
        "source": str(run_dir),
    }]


def owns(run_dir: Path) -> bool:
    """A hybrid folder written before ``config.json`` named the model (``kind`` hybrid)."""
    return rundir.read_config(run_dir).get("kind") == "hybrid"


def train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
    """:func:`brainlearn.models.hybrid.runs.train_run` on an evaluated Diehl & Cook run."""
    from brainlearn.models.hybrid.runs import train_run

    return train_run(run_dir, seed=seed, **options)


def evaluate(run_dir, **options) -> dict:
    """:func:`brainlearn.models.hybrid.runs.evaluate_run`; returns ``RUN/hybrid/metrics.json``."""
    from brainlearn.models.hybrid.runs import evaluate_run, hybrid_dir

    evaluate_run(run_dir, **options)
    return rundir.read_metrics(hybrid_dir(run_dir)[1])


def load(run_dir):
    """The trained layer as a fitted :class:`~brainlearn.models.hybrid.estimator
    .HybridClassifier` (its input: hidden spike trains)."""
    from brainlearn.models.hybrid.estimator import HybridClassifier

    return HybridClassifier.load(run_dir)


SPEC = register_model(ModelSpec(
    name="stdp-bp-hybrid",
    title="the excitatory layer of a finished Diehl & Cook network (STDP, frozen) -> 10 "
          "discrete LIF output neurons trained by BPTT with an ATan surrogate gradient "
          "on its recorded spike trains (PyTorch), then the output layer in Brian2",
    family="STDP + surrogate gradient",
    citation="P. U. Diehl, M. Cook (2015), Front. Comput. Neurosci. 9:99 (the STDP "
             "layer); E. O. Neftci, H. Mostafa, F. Zenke (2019), Surrogate gradient "
             "learning in spiking neural networks, IEEE Signal Process. Mag. 36:51; "
             "C. Lee, P. Panda, G. Srinivasan, K. Roy (2018), Training deep spiking "
             "convolutional neural networks with STDP-based unsupervised pre-training "
             "followed by supervised fine-tuning, Front. Neurosci. 12:435",
    module="brainlearn.models.hybrid",
    train=train, evaluate=evaluate, rows=rows, load=load, owns=owns,
    commands=("brainlearn mnist train --neurons 100 --params sized --out runs/n100",
              "brainlearn mnist evaluate runs/n100",
              "brainlearn hybrid train runs/n100",
              "brainlearn hybrid evaluate runs/n100 --codegen cython"),
    embedded=("brainlearn mnist train --neurons 100 --examples 1000 --data embedded "
              "--out runs/demo",
              "brainlearn mnist evaluate runs/demo --assign-examples 1000 --test-examples 500",
              "brainlearn hybrid train runs/demo --epochs 20",
              "brainlearn hybrid evaluate runs/demo"),
), replace=True)
