"""The registry entries of the surrogate-gradient networks (one per tutorial preset).

``surrogate-mlp`` (snnTorch tutorial 5), ``spikingjelly-single`` and ``spikingjelly-two-layer``
(:data:`brainlearn.models.MODELS`). Nothing here imports PyTorch or Brian2: every callable
imports the model's code when it is called.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.models.contract import ModelSpec, mlp_parameters, register_model, run_info
from brainlearn.models.surrogate.presets import MODEL_NAMES

__all__ = ["rows", "owns", "train", "evaluate", "demo", "load", "SPECS"]

_SJ = ("W. Fang et al. (2023), SpikingJelly: An open-source machine learning infrastructure "
       "platform for spike-based intelligence, Sci. Adv. 9:eadi1480")


def rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    """The trainer's forward pass and the same network in Brian2, labelled by preset."""
    config = run_info(run_dir)
    path = Path(run_dir) / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} is not evaluated yet: run brainlearn surrogate evaluate "
                         f"{run_dir}")
    results = pd.read_csv(path)
    hidden = config.get("hidden", [])
    net = "-".join(str(size) for size in config.get("sizes", (784, *hidden, 10)))
    preset = config.get("preset")
    recipe = f"BPTT, {config.get('surrogate', 'atan')}"
    if config.get("encoder") == "poisson":
        recipe += ", Poisson input"
    label = f"{preset}: {net}" if preset else net
    names = {"trainer": "trainer forward pass (PyTorch)", "brian2": "same network in Brian2"}
    return [{
        "method": f"surrogate-gradient SNN {label} ({recipe}), "
                  f"{names.get(r['implementation'], r['implementation'])}",
        "accuracy": r["accuracy"], "train_seconds": config.get("train_seconds", np.nan),
        "inference_steps": int(r["steps"]), "sim_ms_per_inference": r["steps"] * dt_ms,
        "spikes_per_inference": r["spikes_per_inference"],
        "parameters": config.get("parameters", mlp_parameters((784, *hidden, 10))),
        "local_online_learning": "no (BPTT through time and layers, offline)",
        "test_examples": int(r["n_examples"]), "source": str(run_dir),
    } for _, r in results.iterrows()]


def owns(preset: str):
    """``owns(run_dir)`` for the runs of ``preset`` written before ``config.json`` named the
    model (hand-configured runs without a preset count as the snnTorch tutorial's)."""
    def owns(run_dir: Path) -> bool:
        config = rundir.read_config(run_dir)
        if config.get("kind") != "surrogate":
            return False
        if preset == "snntorch-tutorial5":
            return config.get("preset") in (None, preset)
        return config.get("preset") == preset
    owns.__doc__ = f"A surrogate-gradient run directory of preset {preset!r}."
    return owns


def train(preset: str):
    """``train(run_dir, *, data, seed, **options)`` for ``preset``."""
    def train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
        from brainlearn.models.surrogate.runs import train_run

        return train_run(run_dir, preset=preset, source=data, seed=seed, **options)
    train.__doc__ = f":func:`brainlearn.models.surrogate.runs.train_run` with preset {preset!r}."
    return train


def evaluate(run_dir, *, data: str = "full", **options) -> dict:
    """:func:`brainlearn.models.surrogate.runs.evaluate_run`; returns the run's metrics."""
    from brainlearn.models.surrogate.runs import evaluate_run

    evaluate_run(run_dir, source=data, **options)
    return rundir.read_metrics(run_dir)


def demo(preset: str, **options):
    """``demo(out, *, seed)``: ``preset`` trained and evaluated on the embedded subset."""
    def demo(out, *, seed: int = 0) -> dict:
        from brainlearn.models.surrogate.runs import evaluate_run, train_run

        train_run(out, preset=preset, source="embedded", seed=seed, progress=False, **options)
        evaluate_run(out, source="embedded", device="runtime")
        return rundir.read_metrics(out)
    demo.__doc__ = f"Preset {preset!r} on the embedded subset ({options or 'its settings'})."
    return demo


def load(run_dir):
    """The run directory as a fitted :class:`~brainlearn.models.surrogate.estimator
    .SurrogateClassifier`."""
    from brainlearn.models.surrogate.estimator import SurrogateClassifier

    return SurrogateClassifier.load(run_dir)


_ENTRIES = (
    ("snntorch-tutorial5",
     "784-1000-10 discrete LIF network (beta 0.95, 25 steps), BPTT with an ATan "
     "surrogate gradient (PyTorch), then the same weights in Brian2",
     "snnTorch tutorial 5: J. K. Eshraghian et al. (2023), Training spiking neural networks "
     "using lessons from deep learning, Proc. IEEE 111:1016; E. O. Neftci, H. Mostafa, "
     "F. Zenke (2019), IEEE Signal Process. Mag. 36:51", {"hidden": (100,)}),
    ("spikingjelly-single",
     "784-10 SpikingJelly LIF layer without bias (tau 2, hard reset), Poisson input, rate "
     "MSE, BPTT with an ATan surrogate (PyTorch), then the same weights and input spikes "
     "in Brian2",
     "SpikingJelly's single-layer MNIST tutorial (lif_fc_mnist, 92.9 % after 100 epochs): "
     + _SJ, {"epochs": 20}),
    ("spikingjelly-two-layer",
     "784-196-10 SpikingJelly LIF network without bias (tau 100, hard reset), Poisson "
     "input, rate MSE, BPTT with a sigmoid surrogate (PyTorch), then the same weights and "
     "input spikes in Brian2",
     "SpikingJelly's two-layer MNIST example of its README and clock-driven tutorial "
     "(\"92 %\"): " + _SJ, {"epochs": 20}),
)


def _spec(preset: str, title: str, citation: str, demo_options: dict) -> ModelSpec:
    name = MODEL_NAMES[preset]
    flag = "--hidden 100" if name == "surrogate-mlp" else f"--preset {preset} --epochs 20"
    return ModelSpec(
        name=name, title=title, family="surrogate gradient", citation=citation,
        module="brainlearn.models.surrogate",
        train=train(preset), evaluate=evaluate, rows=rows, demo=demo(preset, **demo_options),
        load=load, owns=owns(preset),
        commands=(f"brainlearn surrogate train --preset {preset} --out runs/{name}",
                  f"brainlearn surrogate evaluate runs/{name}"),
        embedded=(f"brainlearn surrogate train {flag} --data embedded --out runs/{name}_demo",
                  f"brainlearn surrogate evaluate runs/{name}_demo --data embedded"),
    )


#: the three registered specs, in the order of the comparison table
SPECS = tuple(register_model(_spec(*entry), replace=True) for entry in _ENTRIES)
