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
from collections.abc import Sequence

import numpy as np
import pandas as pd
from brian2 import second

from brainlearn import rundir
from brainlearn.atomic import atomic_path

from .datasets import DATASETS, dataset_protocols
from .engine import Protocol, run_protocol
from .event_driven import is_event_driven
from .experiments import bi_poo, sjostrom_facts, song
from .plots import plot_score, plot_song, plot_window, save_figure
from .rules import all_rules, amplitude_names, make_rule
from .scoring import fit_rule, score

__all__ = ["EXPERIMENTS", "catalogue", "TABLE_COLUMNS", "BI_POO_COLUMN", "run_experiment", "write_protocol_spikes",
           "rule_table", "select_rules"]

#: the experiments besides the scored datasets, each with the line ``brainlearn protocol list``
#: prints (the one list: the command line and :func:`run_experiment` read it)
EXPERIMENTS: dict[str, str] = {
    "bi_poo": "STDP window, 60 pairs at 1 Hz, exponential fit of A+/A-/tau+/tau-",
    "song": "Song, Miller & Abbott 2000 competitive learning (bimodal weights)",
    "clopath_frequency": "Clopath et al. 2010 Fig. 2b (5 pairs at +/-10 ms, 0.1-50 Hz, AdEx neuron)",
    "clopath_clamp": "Clopath et al. 2010 voltage clamp (dw against the clamped potential)",
    "gb_stdp": "Graupner & Brunel 2012 STDP curve (DP set, 60 pairs at 1 Hz)",
    "gb_frequency": "Graupner & Brunel 2012 frequency dependence (+/-10 ms pairs)",
}


def catalogue() -> str:
    """What ``brainlearn protocol list`` prints: the bundled datasets (with sources), the
    experiments of :data:`EXPERIMENTS` and the rules (with the triplet presets)."""
    from .datasets import list_datasets
    from .rules import RULE_NAMES, TRIPLET_PRESETS

    lines = ["datasets (scored):"]
    for row in list_datasets().itertuples():
        lines += [f"  {row.name:<18} {row.points:>3} points  {row.description}",
                  f"  {'':<18} source: {row.source}"]
    lines.append("experiments:")
    lines += [f"  {name:<18} {what}" for name, what in EXPERIMENTS.items()]
    lines.append(f"rules: {', '.join(RULE_NAMES)}; triplet presets: {', '.join(TRIPLET_PRESETS)}")
    return "\n".join(lines)


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
                   duration=100 * second, seed: int = 0, device: str = "runtime",
                   layout: str = "paper", rates: Sequence[float] | None = None) -> str:
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
    if name not in (*DATASETS, *EXPERIMENTS):
        raise ValueError(f"unknown protocol {name!r}; choose from {', '.join((*DATASETS, *EXPERIMENTS))}")
    config = {"name": name, "rule": rule, "preset": preset, "structure": structure}
    with rundir.new_run(out) as run:
        if name in ("clopath_frequency", "clopath_clamp", "gb_stdp", "gb_frequency"):
            config = {"name": name, "seed": seed}
            if name == "clopath_frequency":
                config.update(layout=layout, rates=None if rates is None else list(map(float, rates)))
            line, metrics = _rule_figure(name, run, seed, layout=layout, rates=rates)
        elif name == "song":
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


def _clopath_frequency(layout: str, rates):
    """``clopath_frequency`` as the CLI runs it: the paper's figure, or (``layout="nest"``)
    NEST's ``test_clopath_synapse.py`` with its neuron (b = 0.0805 pA, V_th_max = +30.4 mV),
    u-bar delay 4 ms, Wmax 100 and rates 10, 30, 50 Hz."""
    from brian2 import ms, mV, pA

    from brainlearn.neurons import ClopathAdEx
    from brainlearn.plasticity import ClopathSTDP

    from .experiments import clopath_frequency

    if layout == "paper":
        return clopath_frequency(**({} if rates is None else {"rhos": tuple(rates)}))
    neuron = ClopathAdEx(b=0.0805 * pA, V_T_max=30.4 * mV, V_reset=-49.6 * mV)
    return clopath_frequency(ClopathSTDP(delay=4 * ms, w_max=100.0), neuron,
                             rhos=(10, 30, 50) if rates is None else tuple(rates), layout="nest")


def _rule_figure(name: str, run, seed: int, layout: str = "paper", rates=None) -> tuple[str, dict]:
    """The figures of Clopath et al. (2010) and Graupner & Brunel (2012): results, figure,
    summary line and metrics."""
    from .datasets import load_dataset
    from .experiments import clopath_clamp, gb_frequency, gb_stdp_curve
    from .plots import (
        plot_clopath_clamp,
        plot_clopath_frequency,
        plot_gb_curve,
        plot_gb_frequency,
    )

    if name == "clopath_frequency":
        frame = _clopath_frequency(layout, rates)
        figure = plot_clopath_frequency(frame, load_dataset("sjostrom2001"))
        cells = [f"{r.dt_ms:+g}ms@{r.rho_hz:g}Hz={r.normalised:.0f}%" for r in frame.itertuples()]
        line = (f"clopath_frequency ({layout} layout, normalised weight): " + " ".join(cells)
                if layout == "nest" else "clopath_frequency (normalised weight): " + " ".join(cells))
    elif name == "clopath_clamp":
        frame = clopath_clamp()
        figure = plot_clopath_clamp(frame)
        ltd = frame[frame["dw"] < 0]["v_mV"]
        ltp = frame[frame["dw"] > 0]["v_mV"]
        line = (f"clopath_clamp: LTD for {ltd.min():g}..{ltd.max():g} mV, "
                f"LTP from {ltp.min():g} mV, min dw {frame['dw'].min():.3f}, "
                f"max dw {frame['dw'].max():.3f}")
    elif name == "gb_stdp":
        frame = gb_stdp_curve(seed=seed)
        figure = plot_gb_curve(frame)
        cells = [f"{r.dt_ms:+g}ms={r.ratio:.2f}" for r in frame.itertuples()]
        line = "gb_stdp (strength ratio, DP set, 60 pairs at 1 Hz): " + " ".join(cells)
    else:
        frame = gb_frequency(seed=seed)
        figure = plot_gb_frequency(frame, load_dataset("sjostrom2001"))
        cells = [f"{r.dt_ms:+g}ms@{r.rho_hz:g}Hz={r.ratio:.2f}" for r in frame.itertuples()]
        line = "gb_frequency (strength ratio, DP set, 60 pairs): " + " ".join(cells)
    _csv(frame, run / "results.csv")
    save_figure(figure, run / "figure.png")
    return line, {"rows": len(frame)}


def _names(spec: str | Sequence[str]) -> list[str]:
    """Names given as a sequence, or as one comma-separated string (``"pair,triplet"``)."""
    items = spec.split(",") if isinstance(spec, str) else spec
    return [w.strip() for w in items if w.strip()]


def select_rules(spec: str | Sequence[str] | None = None) -> dict:
    """The bench's rules by label, all of them or those named in ``spec`` (labels or rule
    names, as a sequence or comma-separated: ``"pair,triplet:visual-nn-minimal"``)."""
    rules = all_rules()
    if not spec:
        return rules
    wanted = _names(spec)
    unknown = [w for w in wanted if not any(label == w or label.split(":")[0] == w for label in rules)]
    if unknown:
        raise ValueError(f"unknown rule(s) {unknown}; choose from {sorted(rules)}")
    return {label: rule for label, rule in rules.items()
            if label in wanted or label.split(":")[0] in wanted}


def _markdown(table: pd.DataFrame) -> str:
    note = "E = (1/p) sum(((dw_exp - dw_model) / SEM)^2), w0 = 1, no upper bound in the way."
    return note + "\n\n" + table.to_markdown(index=False, floatfmt=".2f") + "\n"


def _facts_and_figure(result, label: str, column: str, out: str, facts: list) -> None:
    """Qualitative facts (Sjostrom, Froemke, Nevian, Wittenberg & Wang) and a figure per rule
    and dataset."""
    from .experiments import froemke_facts, nevian_facts, wittenberg_wang_facts
    from .plots import plot_cells

    name = result.dataset
    facts_of = {"wittenberg_wang2006": wittenberg_wang_facts, "froemke2006": froemke_facts,
                "nevian2006": nevian_facts}
    if name.startswith("sjostrom"):
        found = sjostrom_facts(result.points)
    else:
        found = facts_of[name](result.points) if name in facts_of else {}
    facts.extend({"rule": label, "dataset": column, "fact": k, "holds": v} for k, v in found.items())
    stem = _stem(label, column)
    plot = plot_cells if name == "wittenberg_wang2006" else plot_score
    save_figure(plot(result, f"{label} on {column}: E = {result.E:.2f}"),
                os.path.join(out, "figures", f"{stem}.png"))


def _table_from_file(out: str | os.PathLike, data: str | os.PathLike, rules: dict, progress: bool = True) -> str:
    """Every rule on the user's per-protocol table (``table --data FILE``)."""
    import time

    from .user_table import read_protocol_table, score_table

    kept, skipped = read_protocol_table(data)
    os.makedirs(out, exist_ok=True)
    _csv(skipped, os.path.join(out, "skipped.csv"))
    lines = [f"skipped {getattr(row, 'protocol_id', '') or ''} (dt {row.dt_train} ms, "
             f"{row.frequency_train} Hz): {row.reason}" for row in skipped.itertuples()]
    if kept.empty:
        raise ValueError(f"{data}: no row left to score ({len(skipped)} skipped, see skipped.csv)")
    name = os.path.basename(str(data))
    rows, points = [], []
    for label, rule in rules.items():
        start = time.perf_counter()
        result = score_table(rule, kept, name, progress=progress, desc=label)
        rows.append({"rule": label, name: result.E, "points": len(kept), "skipped": len(skipped),
                     "seconds": time.perf_counter() - start})
        points.append(result.points.assign(rule=label))
    table = pd.DataFrame(rows)
    _csv(table, os.path.join(out, "table.csv"))
    _csv(pd.concat(points, ignore_index=True), os.path.join(out, "points.csv"))
    md = _markdown(table)
    with atomic_path(os.path.join(out, "table.md")) as tmp:
        tmp.write_text(md, encoding="utf-8")
    return "\n".join(lines + [md])


def _slow(rule) -> bool:
    return bool(getattr(rule, "needs_voltage", False) or getattr(rule, "stochastic", False))


def _stem(label: str, column: str) -> str:
    return f"{label}_{column}".replace(":", "-").replace(" ", "_").replace("(", "").replace(")", "")


def _window_cells(window, label: str, out: str, facts: list, windows_points: list) -> dict:
    """Bi & Poo (1998) window of one rule: its figure, facts and the table row's cell."""
    from .experiments import bi_poo_facts

    found = bi_poo_facts(window.frame)
    facts.extend({"rule": label, "dataset": BI_POO_COLUMN, "fact": k, "holds": v} for k, v in found.items())
    save_figure(plot_window(window, f"{label}: 60 pairs at 1 Hz (Bi & Poo 1998)"),
                os.path.join(out, "figures", f"{_stem(label, 'bi_poo')}.png"))
    windows_points.append(window.frame.assign(rule=label))
    return dict(window.params)


#: the Bi & Poo window's column: no amplitudes to score against, the fitted time constants
BI_POO_COLUMN = "bi_poo"
#: the table's columns: every bundled dataset with the paper's structure, Sjostrom as 60 pairs
TABLE_COLUMNS = [(d, "bursts") for d in DATASETS] + [("sjostrom2001", "pfister")]


def _column(dataset: str, structure: str) -> str:
    return dataset if structure == "bursts" else f"{dataset} (60 pairs)"


def _score_rule(rule, columns: list, window_protocols: list) -> tuple[list, object, str, float]:
    """One rule on every column (and the Bi & Poo window, when ``window_protocols``):
    the scores, the window's run, why it could not run (``""`` if it could) and the seconds."""
    import time

    from .scoring import score_together

    start = time.perf_counter()
    results, extra, failure = [], None, ""
    try:
        if _slow(rule) or is_event_driven(rule):  # one run (or one exact event pass) for all
            results, extra = score_together(rule, columns, window_protocols)
        else:
            results = [score(rule, d, structure=s) for d, s in columns]
            if window_protocols:
                extra = run_protocol(rule, window_protocols, w0=1.0)
    except (ValueError, NotImplementedError) as exc:
        failure = f"not run: {type(rule).__name__} cannot run these protocols ({exc})"
    return results, extra, failure, time.perf_counter() - start


def rule_table(out: str | os.PathLike, *, fit: bool = False, device: str = "cpp_standalone",
               maxiter: int = 30, progress: bool = True, rules: str | Sequence[str] | None = None,
               data: str | os.PathLike | None = None, datasets: str | Sequence[str] | None = None,
               window: bool = True) -> str:
    """Score every rule and preset on every dataset; write ``table.csv``, ``cells.csv``,
    ``points.csv``, ``facts.csv``, ``window.csv`` (the Bi & Poo fit and peaks per rule),
    ``window_points.csv``, one figure per rule and column in
    ``figures/`` and ``table.md`` into ``out``, and return the Markdown table.

    Every rule is run on every column. The slow rules (Clopath's neuron, Graupner & Brunel's
    noise lanes) run all their protocols as lanes of ONE 0.1 ms simulation, with the silences
    between units shortened (:mod:`brainlearn.protocols.runners.gaps`); their ``seconds`` in ``cells.csv`` is that
    run's time. A rule that cannot run a column's protocols gets ``E = nan`` and the reason in
    the ``note`` of ``cells.csv`` and below the Markdown table, never a silent gap.

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
    rules : sequence of str or str, optional
        Rules to score, a sequence or comma-separated (default: all, see :func:`select_rules`).
    data : path, optional
        A per-protocol table of the user's (plastyfire's ``paired_recordings.csv`` columns):
        every rule is scored on it instead of the bundled datasets; rows a rule cannot model
        are reported and written to ``skipped.csv``.
    datasets : sequence of str or str, optional
        Columns to run, a sequence or comma-separated (dataset names, ``sjostrom2001 (60 pairs)`` or
        ``sjostrom2001:pfister``; default all).
    window : bool
        Also run the Bi & Poo (1998) window (41 dt, 60 pairs at 1 Hz): no amplitudes exist to
        score it against, so the table shows its fitted ``tau+``/``tau-`` and ``facts.csv``
        its three facts (:func:`~brainlearn.protocols.experiments.bi_poo_facts`).

    Returns
    -------
    str
        The Markdown table (also ``table.md``), after the skipped rows of ``data``.
    """
    from tqdm.auto import tqdm

    from .experiments import bi_poo_protocols, window_result

    chosen = select_rules(rules)
    if data is not None:
        return _table_from_file(out, data, chosen, progress)
    os.makedirs(out, exist_ok=True)
    columns = _select_columns(datasets)
    rows, points, facts, windows, window_points = [], [], [], [], []
    window_protocols = bi_poo_protocols() if window else []
    jobs = [(label, rule) for label, rule in chosen.items()]
    for label, rule in tqdm(jobs, desc="rules", disable=not progress):
        results, extra, failure, seconds = _score_rule(rule, columns, window_protocols)
        note = "one 0.1 ms run for all columns (silences shortened)" if _slow(rule) else ""
        if failure:
            for d, s in columns:
                rows.append({"rule": label, "dataset": _column(d, s), "E": float("nan"),
                             "seconds": seconds, "note": failure})
            if window:
                windows.append({"rule": label, "note": failure})
            continue
        for (dataset, structure), result in zip(columns, results, strict=True):
            col = _column(dataset, structure)
            rows.append({"rule": label, "dataset": col, "E": result.E, "seconds": seconds, "note": note})
            points.append(result.points.assign(rule=label, structure=structure))
            _facts_and_figure(result, label, col, out, facts)
            names = amplitude_names(rule)
            if fit and names:
                fitted = fit_rule(rule, dataset, names, structure=structure, device=device,
                                  maxiter=maxiter)
                rows.append({"rule": f"{label} (fitted amplitudes)", "dataset": col, "E": fitted.E,
                             "seconds": float("nan"), "note": f"fitted {', '.join(names)}"})
        if window:
            windows.append({"rule": label, **_window_cells(window_result(window_protocols, extra), label,
                                                          out, facts, window_points), "note": note})
    long = pd.DataFrame(rows)
    table = long.pivot(index="rule", columns="dataset", values="E")
    table = table[[_column(d, s) for d, s in columns]].reindex(long["rule"].drop_duplicates()).reset_index()
    if windows:
        win = pd.DataFrame(windows)
        _csv(win, os.path.join(out, "window.csv"))
        if window_points:
            _csv(pd.concat(window_points, ignore_index=True), os.path.join(out, "window_points.csv"))
        for key in ("tau_plus_ms", "tau_minus_ms"):
            if key in win:
                table[f"{BI_POO_COLUMN} {key.replace('_plus_ms', '+').replace('_minus_ms', '-')} (ms)"] = table["rule"].map(
                    dict(zip(win["rule"], win[key], strict=True)))
    md = _markdown(table)
    if windows:
        md += ("\nbi_poo: 41 dt from -100 to +100 ms, 60 pairs at 1 Hz; tau = nan where a side of the "
               "window is not exponential (its largest change away from dt = 0): see the peaks in "
               "window.csv.\n")
    failed = long[long["note"].str.startswith("not run")].drop_duplicates(["rule", "note"])
    if len(failed):
        md += "\n" + "\n".join(f"- {r.rule}: {r.note}" for r in failed.itertuples()) + "\n"
    _csv(table, os.path.join(out, "table.csv"))
    _csv(long, os.path.join(out, "cells.csv"))
    if points:
        _csv(pd.concat(points, ignore_index=True), os.path.join(out, "points.csv"))
    if facts:
        _csv(pd.DataFrame(facts), os.path.join(out, "facts.csv"))
    with atomic_path(os.path.join(out, "table.md")) as tmp:
        tmp.write_text(md, encoding="utf-8")
    return md


def _select_columns(spec: str | Sequence[str] | None) -> list[tuple[str, str]]:
    """The table's columns, all or those named in ``spec`` (a sequence or comma-separated)."""
    if not spec:
        return list(TABLE_COLUMNS)
    wanted = _names(spec)
    chosen = []
    for w in wanted:
        match = [(d, s) for d, s in TABLE_COLUMNS if w in (_column(d, s), f"{d}:{s}")]
        if not match:
            names = [_column(d, s) for d, s in TABLE_COLUMNS]
            raise ValueError(f"unknown column {w!r}; choose from {names} (or sjostrom2001:pfister)")
        chosen += match
    return chosen
