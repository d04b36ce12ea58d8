"""The accuracy table of a converted network (MLP or CNN) beside its ANN and its rate model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainlearn.lanes import preprocess
from brainlearn.models.conversion.network import SimulationResult, check_v_init, simulate
from brainlearn.models.conversion.normalise import convert
from brainlearn.models.conversion.rate import rate_model
from brainlearn.models.conversion.unroll import ConvertedCNN

__all__ = ["evaluate", "READOUTS", "SIMULATORS"]

#: What ``accuracy`` decodes: the output spike count, or the output layer's integrated input.
READOUTS = ("count", "potential")
#: Brian2 (:func:`~brainlearn.models.conversion.simulate`) or the PyTorch replica of the CNN
#: (:func:`~brainlearn.models.conversion.simulate_torch`).
SIMULATORS = ("brian2", "torch")


def _join(parts: list[SimulationResult]) -> SimulationResult:
    """One result from the results of consecutive chunks of images."""
    first = parts[0]
    if len(parts) == 1:
        return first
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts], axis=1)  # noqa: E731
    return SimulationResult(
        first.steps, first.input, first.reset, first.norm, cat("out_counts"),
        cat("out_potential"), cat("spikes"),
        None if first.input_spikes is None else cat("input_spikes"), None, first.v_init,
        first.lanes, first.synapses, float(sum(p.run_seconds for p in parts)))


def _run(converted, x, *, simulator, steps, inputs, resets, v_init, chunk, progress,
         threads, precision, **brian2) -> list[SimulationResult]:
    """Every configuration on every image, ``chunk`` images per simulation."""
    if simulator == "torch":
        if tuple(inputs) != ("analog",) or tuple(resets) != ("subtract",):
            raise ValueError("simulator='torch' replays analog input with reset by subtraction; "
                             f"got inputs={tuple(inputs)}, resets={tuple(resets)}")
        from brainlearn.models.conversion.replica import simulate_torch
    starts = range(0, len(x), int(chunk))
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc=f"converted network ({simulator})", unit="chunk")
    per_chunk = []
    for s in starts:
        part = x[s:s + chunk]
        if simulator == "brian2":
            per_chunk.append(simulate(converted, part, steps=steps, inputs=inputs, resets=resets,
                                      v_init=v_init, **brian2))
        else:
            per_chunk.append([simulate_torch(c, part, steps=steps, v_init=v_init,
                                             threads=threads, precision=precision)
                              for c in converted])
    return [_join(list(parts)) for parts in zip(*per_chunk, strict=True)]


def evaluate(ann, images, labels, x_norm, *, steps=(8, 16, 32, 64, 128, 256),
             inputs=("analog",), norms=("99.9",), resets=("subtract",), v_init: float = 0.0,
             readout: str = "count", simulator: str = "brian2", device: str = "runtime",
             lanes: int | None = None, max_synapses: float = 4e6, seed: int | None = 0,
             rate: bool = True, chunk: int | None = None, threads: int = 1,
             precision: str = "float64", directory=None, progress: bool = False) -> pd.DataFrame:
    """Accuracy of the converted SNN against the ANN, for every configuration and ``T``.

    Parameters
    ----------
    ann : MLP or CNN
        Trained ANN (:mod:`brainlearn.models.conversion.ann`).
    images, labels : array_like
        Test set.
    x_norm : array_like
        Normalisation data (training inputs).
    steps, inputs, resets, v_init, device, lanes, max_synapses, seed, directory
        See :func:`~brainlearn.models.conversion.simulate` (all configurations of one chunk
        run in one Brian2 simulation).
    norms : sequence
        Normalisations (``"max"``, ``"99.9"``, any percentile).
    readout : {"count", "potential"}
        What ``accuracy`` decodes: the output spike count, or the output layer's accumulated
        input (a non-spiking readout, Rueckauer et al. 2017). Both are reported as
        ``accuracy_count`` and ``accuracy_potential``.
    simulator : {"brian2", "torch"}
        Brian2, or the CNN's IF network clock-driven in PyTorch
        (:func:`~brainlearn.models.conversion.simulate_torch`, in ``precision`` with
        ``threads``; analog input, reset by subtraction).
    rate : bool
        Also score the rate model (:func:`~brainlearn.models.conversion.rate_model`, column
        ``rate_accuracy``; NaN without).
    chunk : int, optional
        Images per simulation (default: all for the MLP; 500 for the CNN, whose analog input
        current of ``chunk x 25088`` values is held in memory).
    progress : bool
        A progress bar over the chunks.

    Returns
    -------
    pandas.DataFrame
        One row per (norm, input, reset) and ``T``: ``simulator, steps, input, norm, reset,
        v_init, readout, accuracy, accuracy_count, accuracy_potential, ann_accuracy,
        rate_accuracy, spikes_per_example`` (all IF spikes in the first ``T`` steps),
        ``input_spikes_per_example`` (Poisson only), ``ms_per_image`` (simulation time per
        image, without the build), ``n_examples, synapses``.
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    v_init = check_v_init(v_init)
    labels = np.asarray(labels).astype(np.int64)
    x = preprocess(images)
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    converted = [convert(ann, x_norm, norm) for norm in norms]
    if chunk is None:
        chunk = 500 if isinstance(converted[0], ConvertedCNN) else max(len(x), 1)
    ann_accuracy = ann.score(x, labels)
    rate_acc = {c.norm: (float(np.mean(np.argmax(rate_model(c, x)[-1], axis=1) == labels))
                         if rate else np.nan) for c in converted}
    results = _run(converted, x, simulator=simulator, steps=steps, inputs=inputs, resets=resets,
                   v_init=v_init, chunk=chunk, progress=progress, threads=threads,
                   precision=precision, device=device, lanes=lanes, max_synapses=max_synapses,
                   seed=seed, directory=directory)
    return pd.DataFrame(_table_rows(results, labels, simulator, v_init, readout, ann_accuracy,
                                    rate_acc))


def _table_rows(results, labels, simulator, v_init, readout, ann_accuracy, rate_acc) -> list:
    """One row per configuration and checkpoint ``T``."""
    rows = []
    for res in results:
        acc = {"count": res.accuracy(labels, "count"),
               "potential": res.accuracy(labels, "potential")}
        for s, T in enumerate(res.steps):
            rows.append({
                "simulator": simulator, "steps": T, "input": res.input, "norm": res.norm,
                "reset": res.reset, "v_init": v_init, "readout": readout,
                "accuracy": acc[readout][s], "accuracy_count": acc["count"][s],
                "accuracy_potential": acc["potential"][s], "ann_accuracy": ann_accuracy,
                "rate_accuracy": rate_acc[res.norm],
                "spikes_per_example": res.spikes[s].mean(),
                "input_spikes_per_example": (res.input_spikes[s].mean()
                                             if res.input_spikes is not None else np.nan),
                "ms_per_image": 1000 * res.run_seconds / len(labels),
                "n_examples": len(labels), "synapses": res.synapses,
            })
    return rows
