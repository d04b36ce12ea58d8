"""Protocol experiments written as run directories (see :mod:`brainlearn.rundir`).

:func:`run_experiment` runs one dataset or experiment and writes ``config.json`` (``kind``
``"protocol"``), ``metrics.json``, ``results.csv``, ``figure.png``, ``score.txt`` and what
``brainlearn analyze`` reads: the imposed pre- and postsynaptic spike trains of every
protocol (``spikes.parquet``: populations ``pre`` and ``post``, neuron ``k`` is protocol
``k``, all protocols simulated side by side from t = 0, as the engine runs them), or, for
Song et al., the final weights (``weights.npz``, ``(n_inputs, n_ratios)``).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from brian2 import second

from brainlearn import rundir
from brainlearn.atomic import atomic_path

from .datasets import DATASETS, dataset_protocols
from .engine import Protocol
from .experiments import bi_poo, sjostrom_facts, song
from .plots import plot_score, plot_song, plot_window, save_figure
from .rules import all_rules, amplitude_names, make_rule
from .scoring import fit_rule, score

__all__ = ["EXPERIMENTS", "run_experiment", "write_protocol_spikes", "rule_table"]

#: experiments besides the scored datasets
EXPERIMENTS = ("bi_poo", "song")


def write_protocol_spikes(run_dir: str | os.PathLike, protocols: list[Protocol]) -> None:
    """Write the imposed spike trains of ``protocols`` as the run's spikes.

    Populations ``pre`` and ``post`` have one neuron per protocol (neuron ``k``: protocol
    ``k``); every protocol starts at t = 0, as in :func:`~brainlearn.protocols.run_protocol`.
    """
    neuron, times, population = [], [], []
    for k, protocol in enumerate(protocols):
        for name, spikes in zip(("pre", "post"), protocol.spike_times(), strict=True):
            neuron.append(np.full(spikes.size, k))
            times.append(spikes)
            population.append(np.full(spikes.size, name))
    duration = max(float(p.duration / second) for p in protocols)
    rundir.write_spikes(
        run_dir, np.concatenate(neuron), np.concatenate(times),
        population=np.concatenate(population),
        n_neurons={"pre": len(protocols), "post": len(protocols)},
        duration=duration + float(protocols[0].period / second),
    )


def _csv(frame: pd.DataFrame, path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def run_experiment(name: str, out: str | os.PathLike, *, rule: str = "pair",
                   preset: str | None = None, structure: str = "bursts",
                   duration=100 * second, seed: int = 0, device: str = "runtime") -> str:
    """Run a scored dataset or an experiment (``bi_poo``, ``song``) into the run directory ``out``.

    Parameters
    ----------
    name : str
        A dataset of :data:`~brainlearn.protocols.DATASETS`, ``"bi_poo"`` or ``"song"``.
    out : path
        Run directory (created; removed again if the run fails before it is complete).
    rule, preset : str
        The plasticity rule (see :func:`~brainlearn.protocols.make_rule`); not used by ``song``.
    structure : str
        Protocol structure of a dataset (``bursts`` or ``pfister``).
    duration : Quantity
        Simulated time of ``song``.
    seed : int
        Random seed of ``song``.
    device : str
        Brian2 device of ``song`` (``runtime`` or ``cpp_standalone``).

    Returns
    -------
    str
        A one-line summary (also written to ``score.txt``).
    """
    if name not in DATASETS + EXPERIMENTS:
        raise ValueError(f"unknown protocol {name!r}; choose from {', '.join(DATASETS + EXPERIMENTS)}")
    config = {"name": name, "rule": rule, "preset": preset, "structure": structure}
    with rundir.new_run(out) as run:
        if name == "song":
            config = {"name": name, "duration_s": float(duration / second), "seed": seed,
                      "device": device}
            results = song(ratio=[1.05, 1.0], duration=duration, seed=seed, device=device)
            _csv(pd.concat([r.to_frame() for r in results], ignore_index=True), run / "results.csv")
            save_figure(plot_song(results), run / "figure.png")
            rundir.write_weights(run, np.stack([r.weights for r in results], axis=1),
                                 ratios=np.array([r.ratio for r in results]))
            metrics = {f"bimodal_{r.ratio:g}": bool(r.bimodal) for r in results}
            line = "; ".join(
                f"A-/A+={r.ratio:g}: low {r.frac_low:.2f}, high {r.frac_high:.2f}, "
                f"{r.output_rate_hz:.1f} Hz, {'bimodal' if r.bimodal else 'not bimodal'}"
                for r in results)
        else:
            plasticity = make_rule(rule, preset)
            label = rule + (f":{preset}" if preset else "")
            if name == "bi_poo":
                result = bi_poo(plasticity)
                _csv(result.frame, run / "results.csv")
                save_figure(plot_window(result, f"{label}: 60 pairs at 1 Hz"), run / "figure.png")
                protocols = [Protocol.pairing(d * 1e-3 * second, 60, 1 / second)
                             for d in result.frame["dt_ms"]]
                p = metrics = result.params
                line = (f"{label} bi_poo fit: A+={p['A_plus']:.4g} tau+={p['tau_plus_ms']:.2f} ms "
                        f"A-={p['A_minus']:.4g} tau-={p['tau_minus_ms']:.2f} ms")
            else:
                result = score(plasticity, name, structure=structure)
                _csv(result.points, run / "results.csv")
                save_figure(plot_score(result, f"{label} on {name} ({structure}): E = {result.E:.2f}"),
                            run / "figure.png")
                protocols = dataset_protocols(name, structure)
                metrics = {"E": float(result.E)}
                line = f"{label} on {name} ({structure}): E = {result.E:.3f}"
                if name.startswith("sjostrom"):
                    facts = sjostrom_facts(result.points)
                    metrics.update({k: bool(v) for k, v in facts.items()})
                    line += " facts " + " ".join(f"{k}={'yes' if v else 'NO'}" for k, v in facts.items())
            write_protocol_spikes(run, protocols)
        rundir.write_config(run, config, kind="protocol")
        rundir.update_metrics(run, metrics)
        with atomic_path(run / "score.txt") as tmp:
            tmp.write_text(line + "\n", encoding="utf-8")
    return line


def rule_table(out: str | os.PathLike, *, fit: bool = False, device: str = "cpp_standalone",
               maxiter: int = 30, progress: bool = True) -> str:
    """Score every rule and preset on every dataset; write ``table.csv``, ``points.csv`` and
    ``table.md`` into ``out`` and return the Markdown table.

    Parameters
    ----------
    out : path
        Output directory.
    fit : bool
        Also fit each rule's amplitudes (``fit_rule``, slower).
    device : str
        Brian2 device of the fits.
    maxiter : int
        Differential-evolution generations of the fits.
    progress : bool
        Show a progress bar.
    """
    from tqdm.auto import tqdm

    columns = [(d, "bursts") for d in DATASETS] + [("sjostrom2001", "pfister")]
    rules = all_rules()
    rows, points = [], []
    jobs = [(label, rule, d, s) for label, rule in rules.items() for d, s in columns]
    for label, rule, dataset, structure in tqdm(jobs, desc="rules x datasets", disable=not progress):
        col = dataset if structure == "bursts" else f"{dataset} (60 pairs)"
        result = score(rule, dataset, structure=structure)
        rows.append({"rule": label, "dataset": col, "E": result.E})
        points.append(result.points.assign(rule=label, structure=structure))
        if fit:
            fitted = fit_rule(rule, dataset, amplitude_names(rule), structure=structure,
                              device=device, maxiter=maxiter)
            rows.append({"rule": f"{label} (fitted amplitudes)", "dataset": col, "E": fitted.E})
    long = pd.DataFrame(rows)
    table = long.pivot(index="rule", columns="dataset", values="E")
    order = [c if s == "bursts" else f"{c} (60 pairs)" for c, s in columns]
    table = table[order].reindex(long["rule"].drop_duplicates()).reset_index()
    note = "E = (1/p) sum(((dw_exp - dw_model) / SEM)^2), w0 = 1, no upper bound in the way."
    md = note + "\n\n" + table.to_markdown(index=False, floatfmt=".2f") + "\n"
    os.makedirs(out, exist_ok=True)
    _csv(table, os.path.join(out, "table.csv"))
    _csv(pd.concat(points, ignore_index=True), os.path.join(out, "points.csv"))
    with atomic_path(os.path.join(out, "table.md")) as tmp:
        tmp.write_text(md, encoding="utf-8")
    return md
