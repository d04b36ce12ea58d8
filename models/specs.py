"""The registry entries of the models that do not have their own package yet.

Surrogate gradients (three presets) and the STDP + BP hybrid (conversion's entries are in
:mod:`brainlearn.models.conversion.spec`, e-prop's in :mod:`brainlearn.models.eprop.spec`). Each entry moves into its model's package
(``<package>/spec.py``) as that package is formed; nothing here imports a simulator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.models.contract import (
    ModelSpec,
    mlp_parameters,
    register_model,
    run_info,
)

__all__ = ["surrogate_rows", "hybrid_rows"]


def _kind(*kinds: str):
    def owns(run_dir: Path) -> bool:
        return rundir.read_config(run_dir).get("kind") in kinds
    owns.__doc__ = f"A run directory whose config.json says kind {' or '.join(kinds)}."
    return owns


def _results(run_dir: Path, command: str) -> pd.DataFrame:
    path = Path(run_dir) / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} is not evaluated yet: run {command} {run_dir}")
    return pd.read_csv(path)


def _metrics(run_dir: Path) -> dict:
    return rundir.read_metrics(run_dir)


def surrogate_rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    """The trainer's forward pass and the same network in Brian2, labelled by preset."""
    config = run_info(run_dir)
    results = _results(run_dir, "brainlearn surrogate evaluate")
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


def _surrogate_owns(preset: str | None):
    def owns(run_dir: Path) -> bool:
        config = rundir.read_config(run_dir)
        # runs configured by hand (no preset) count as the snnTorch tutorial's network
        return (config.get("kind") == "surrogate"
                and config.get("preset", "snntorch-tutorial5") in (preset, None)
                if preset == "snntorch-tutorial5"
                else config.get("kind") == "surrogate" and config.get("preset") == preset)
    owns.__doc__ = f"A surrogate-gradient run directory of preset {preset!r}."
    return owns


def _surrogate_train(preset: str):
    def train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
        from brainlearn.models.surrogate import train_run

        return train_run(run_dir, preset=preset, source=data, seed=seed, **options)
    train.__doc__ = f":func:`brainlearn.models.surrogate.train_run` with preset {preset!r}."
    return train


def surrogate_evaluate(run_dir, *, data: str = "full", **options) -> dict:
    """:func:`brainlearn.models.surrogate.evaluate_run`; returns the run's metrics."""
    from brainlearn.models.surrogate import evaluate_run

    evaluate_run(run_dir, source=data, **options)
    return _metrics(run_dir)


def _surrogate_demo(preset: str, **options):
    def demo(out, *, seed: int = 0) -> dict:
        from brainlearn.models.surrogate import evaluate_run, train_run

        train_run(out, preset=preset, source="embedded", seed=seed, progress=False, **options)
        evaluate_run(out, source="embedded", device="runtime")
        return _metrics(out)
    demo.__doc__ = f"Preset {preset!r} on the embedded subset ({options or 'its settings'})."
    return demo


# ---------------------------------------------------------------------------------- hybrid
def hybrid_rows(run_dir: Path) -> list[dict]:
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
    stdp = _metrics(parent)
    n = stdp.get("neurons", config.get("hidden_neurons"))
    t_input, dt = input_window(parent)
    hybrid = _metrics(run_dir)
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


def hybrid_train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
    """:func:`brainlearn.models.hybrid.train_run` on an evaluated Diehl & Cook run."""
    from brainlearn.models.hybrid import train_run

    return train_run(run_dir, seed=seed, **options)


def hybrid_evaluate(run_dir, **options) -> dict:
    """:func:`brainlearn.models.hybrid.evaluate_run`; returns ``RUN/hybrid/metrics.json``."""
    from brainlearn.models.hybrid import SUBDIR, evaluate_run

    evaluate_run(run_dir, **options)
    return _metrics(Path(run_dir) / SUBDIR)


_SJ = ("W. Fang et al. (2023), SpikingJelly: An open-source machine learning infrastructure "
       "platform for spike-based intelligence, Sci. Adv. 9:eadi1480")

for _name, _preset, _title, _citation, _demo_options in (
    ("surrogate-mlp", "snntorch-tutorial5",
     "784-1000-10 discrete LIF network (beta 0.95, 25 steps), BPTT with an ATan "
     "surrogate gradient (PyTorch), then the same weights in Brian2",
     "snnTorch tutorial 5: J. K. Eshraghian et al. (2023), Training spiking neural networks "
     "using lessons from deep learning, Proc. IEEE 111:1016; E. O. Neftci, H. Mostafa, "
     "F. Zenke (2019), IEEE Signal Process. Mag. 36:51", {"hidden": (100,)}),
    ("spikingjelly-single", "spikingjelly-single",
     "784-10 SpikingJelly LIF layer without bias (tau 2, hard reset), Poisson input, rate "
     "MSE, BPTT with an ATan surrogate (PyTorch), then the same weights and input spikes "
     "in Brian2",
     "SpikingJelly's single-layer MNIST tutorial (lif_fc_mnist, 92.9 % after 100 epochs): "
     + _SJ, {"epochs": 20}),
    ("spikingjelly-two-layer", "spikingjelly-two-layer",
     "784-196-10 SpikingJelly LIF network without bias (tau 100, hard reset), Poisson "
     "input, rate MSE, BPTT with a sigmoid surrogate (PyTorch), then the same weights and "
     "input spikes in Brian2",
     "SpikingJelly's two-layer MNIST example of its README and clock-driven tutorial "
     "(\"92 %\"): " + _SJ, {"epochs": 20}),
):
    _flag = "--hidden 100" if _name == "surrogate-mlp" else f"--preset {_preset} --epochs 20"
    register_model(ModelSpec(
        name=_name, title=_title, family="surrogate gradient", citation=_citation,
        module="brainlearn.models.surrogate",
        train=_surrogate_train(_preset), evaluate=surrogate_evaluate, rows=surrogate_rows,
        demo=_surrogate_demo(_preset, **_demo_options), owns=_surrogate_owns(_preset),
        commands=(f"brainlearn surrogate train --preset {_preset} --out runs/{_name}",
                  f"brainlearn surrogate evaluate runs/{_name}"),
        embedded=(f"brainlearn surrogate train {_flag} --data embedded --out runs/{_name}_demo",
                  f"brainlearn surrogate evaluate runs/{_name}_demo --data embedded"),
    ))

register_model(ModelSpec(
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
    train=hybrid_train, evaluate=hybrid_evaluate, rows=hybrid_rows, owns=_kind("hybrid"),
    commands=("brainlearn mnist train --neurons 100 --params sized --out runs/n100",
              "brainlearn mnist evaluate runs/n100",
              "brainlearn hybrid train runs/n100",
              "brainlearn hybrid evaluate runs/n100 --codegen cython"),
    embedded=("brainlearn mnist train --neurons 100 --examples 1000 --data embedded "
              "--out runs/demo",
              "brainlearn mnist evaluate runs/demo --assign-examples 1000 --test-examples 500",
              "brainlearn hybrid train runs/demo --epochs 20",
              "brainlearn hybrid evaluate runs/demo"),
))
