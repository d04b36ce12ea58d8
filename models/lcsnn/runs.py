"""What a trained LC-SNN run directory holds, read back: its parameters, weights and
thresholds, and readouts fitted on its ``evaluation.npz`` (used by training, the plots and
the estimator)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.models.lcsnn.model import LCSNNParams
from brainlearn.models.lcsnn.readouts import READOUTS, NgramReadout, firing_steps, make_readout

__all__ = ["EVALUATION", "DEFAULT_EXAMPLES", "TEST_EXAMPLES", "load_images", "load_params",
           "trained_state", "fit_readout", "score_readouts"]

EVALUATION = "evaluation.npz"
#: training images per pass by data source (the paper: one pass over 60,000)
DEFAULT_EXAMPLES = {"full": 60000, "embedded": 1000}
#: test images by data source
TEST_EXAMPLES = {"full": 10000, "embedded": 500}


def load_images(data: str, split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images and labels of MNIST ``split`` (``full`` or ``embedded``)."""
    from brainlearn.data import load_mnist

    if data not in DEFAULT_EXAMPLES:
        raise ValueError(f"data must be 'full' or 'embedded', got {data!r}")
    images, labels = load_mnist(split, source=data)
    n = len(images) if n is None else int(n)
    if not 0 < n <= len(images):
        raise ValueError(f"{split} examples must be 1 to {len(images)} for data={data}, got {n}")
    return images[:n], labels[:n].astype(np.int64)


def load_params(config: dict) -> LCSNNParams:
    """The run's parameters from its ``config.json`` (paper values where it says nothing)."""
    from brian2 import Hz, ms, mV

    units = {"ms": ms, "mV": mV, "Hz": Hz}
    changes = {}
    for key, value in (config.get("params") or {}).items():
        if isinstance(value, str) and " " in value:
            number, unit = value.split()
            value = float(number) * units[unit]
        changes[key] = value
    return LCSNNParams.paper(int(config["n_filters"]),
                             **{k: config[k] for k in ("kernel", "stride") if k in config},
                             **changes)


def trained_state(run_dir: str | Path) -> tuple[dict, LCSNNParams, np.ndarray, np.ndarray]:
    """``(config, params, weights, theta)`` of a trained run directory."""
    run = rundir.open_run(run_dir)
    config = rundir.read_config(run, required=True)
    stored = rundir.read_weights(run)
    if stored is None:
        raise ValueError(f"{run_dir} is not trained yet (no weights): train it first")
    return config, load_params(config), stored["weights"], stored["theta"]


def fit_readout(name: str, arrays: dict, seed: int = 0):
    """Readout ``name`` fitted on the assignment images of an ``evaluation.npz``."""
    readout = make_readout(name, seed)
    if isinstance(readout, NgramReadout):
        return readout.fit(_firing(arrays, "assign"), arrays["assign_labels"])
    return readout.fit(arrays["assign_counts"], arrays["assign_labels"])


def _firing(arrays: dict, stage: str) -> list:
    return firing_steps(arrays[f"{stage}_spike_example"], arrays[f"{stage}_spike_step"],
                        arrays[f"{stage}_spike_neuron"], len(arrays[f"{stage}_labels"]))


def score_readouts(arrays: dict, readouts=READOUTS, seed: int = 0) -> dict[str, float]:
    """Test accuracy of each readout, fitted on the assignment images."""
    out = {}
    for name in readouts:
        readout = fit_readout(name, arrays, seed)
        if isinstance(readout, NgramReadout):
            predicted = readout.predict(_firing(arrays, "test"))
        else:
            predicted = readout.predict(arrays["test_counts"])
        out[name] = float(np.mean(np.asarray(predicted) == arrays["test_labels"]))
    return out
