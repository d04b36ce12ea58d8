"""The user's own plasticity data: a per-protocol table scored like the bundled datasets.

The format is the public one of plasticity-fitting work (BlueBrain ``plastyfire``,
``biodata/paired_recordings.csv``): one row per protocol with the columns

===================  ==========================================================
``frequency_train``  pairing frequency within a train (Hz)
``dt_train``         ``t_post - t_pre`` of every pair (ms)
``n_stimuli_train``  pairs per train
``n_sweep``          number of trains (sweeps)
``period_sweep``     time from one train's start to the next (s)
``mean_epsp_ratio``  EPSP after / before (mean over cells)
``sem_epsp_ratio``   its standard error
``sample_size``      number of cells (optional)
``reference``        where the row comes from (optional)
``notes``            free text (optional)
===================  ==========================================================

and any other columns (``protocol_id``, cell types, ...), which are kept. A row is a train of
``n_stimuli_train`` pairs at ``frequency_train`` repeated ``n_sweep`` times every
``period_sweep`` (:meth:`~brainlearn.protocols.engine.Protocol.burst_pairing`).

Rows a rule cannot model are reported and skipped, never silently scored: pharmacology in
the notes (MK-801, APV/AP5, nifedipine, blockers, antagonists, drugs "in the pipette"), a
missing or non-positive SEM, or a protocol that does not fit (a train longer than its period).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from brian2 import Hz, ms, second

from brainlearn.plasticity import PlasticityRule
from brainlearn.protocols.engine import Protocol, run_protocol
from brainlearn.protocols.event_driven import is_event_driven, train_weights
from brainlearn.protocols.scoring import Score, fit_error

__all__ = ["REQUIRED_COLUMNS", "PHARMACOLOGY", "read_protocol_table", "table_protocols", "score_table"]

REQUIRED_COLUMNS = ("frequency_train", "dt_train", "n_stimuli_train", "n_sweep", "period_sweep",
                    "mean_epsp_ratio", "sem_epsp_ratio")

#: words in ``notes`` that mark a pharmacological condition (case-insensitive)
PHARMACOLOGY = ("mk-801", "mk801", "apv", "ap5", "ap-5", "nifedipine", "blocker", "to block", "antagonist",
                "in the pipette", "in presynaptic pipette", "bath-applied", "bath applied", "drug")


def _pharmacology(notes: pd.Series) -> pd.Series:
    """The first word of :data:`PHARMACOLOGY` in each note (``None`` where there is none)."""
    found = pd.Series([None] * len(notes), index=notes.index, dtype=object)
    text = notes[notes.map(lambda v: isinstance(v, str) and bool(v.strip()))].astype(str).str.lower()
    for word in PHARMACOLOGY:
        hit = text.str.contains(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", regex=True)
        hit = hit[hit].index.difference(found.dropna().index)
        found[hit] = word
    return found


def _numbers(frame: pd.DataFrame, path) -> pd.DataFrame:
    """The numeric columns as floats; text in one is refused in one line naming the column,
    the row (1: the first row under the header) and the value."""
    numbers = {}
    for column in REQUIRED_COLUMNS:
        raw = frame[column]
        if pd.api.types.is_numeric_dtype(raw):  # pandas read numbers only: nothing to check
            numbers[column] = raw.astype(float)
            continue
        values = pd.to_numeric(raw, errors="coerce")
        blank = raw.isna() | raw.map(lambda v: isinstance(v, str) and not v.strip())
        bad = values.isna() & ~blank
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            ident = f" (protocol_id {frame['protocol_id'].iloc[row]!r})" if "protocol_id" in frame.columns else ""
            raise ValueError(f"{path}: column {column!r}, data row {row + 1}{ident}: "
                             f"{raw.iloc[row]!r} is not a number")
        numbers[column] = values.astype(float)
    return pd.DataFrame(numbers, index=frame.index)


def _reasons(frame: pd.DataFrame, numbers: pd.DataFrame) -> pd.Series:
    """Why each row cannot be scored (``None``: it can), first reason first."""
    n = numbers
    drug = _pharmacology(frame["notes"])
    train_s = (n["n_stimuli_train"] - 1) / n["frequency_train"] + n["dt_train"].abs() / 1e3
    counts_whole = (n["n_stimuli_train"] % 1 == 0) & (n["n_sweep"] % 1 == 0)
    checks = [
        (drug.notna(), drug.map(lambda d: f"pharmacology in the notes ({d!r}): the rules model no drugs")),
        (~np.isfinite(n).all(axis=1), "a protocol number or the EPSP ratio is missing"),
        (~(n["sem_epsp_ratio"] > 0),
         n["sem_epsp_ratio"].map(lambda v: f"sem_epsp_ratio must be > 0 to weigh the point, got {v:g}")),
        ((n["n_stimuli_train"] < 1) | (n["n_sweep"] < 1) | (n["frequency_train"] <= 0) | (n["period_sweep"] <= 0),
         "non-positive frequency, period, stimuli or sweeps"),
        (~counts_whole, "n_stimuli_train and n_sweep must be whole numbers"),
        ((n["n_sweep"] > 1) & (train_s >= n["period_sweep"]),
         [f"the train ({t:g} s) does not fit in its sweep period ({p:g} s)"
          for t, p in zip(train_s, n["period_sweep"], strict=True)]),
    ]
    reasons = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for hit, text in checks:
        hit = pd.Series(hit, index=frame.index).fillna(False).astype(bool) & reasons.isna()
        if hit.any():
            text = text if isinstance(text, str) else pd.Series(list(text), index=frame.index)[hit]
            reasons[hit] = text
    return reasons


def read_protocol_table(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a per-protocol table; return ``(kept, skipped)``.

    Parameters
    ----------
    path : str or path-like
        A CSV file with :data:`REQUIRED_COLUMNS` (see the module docstring).

    Returns
    -------
    kept : pandas.DataFrame
        The rows to score, with ``label``, ``protocol`` (``"pairing_train"``), ``dt_ms``,
        ``rho_hz``, ``n_post``, ``dw_mean`` (``mean_epsp_ratio - 1``) and ``dw_sem`` added.
    skipped : pandas.DataFrame
        The other rows with a ``reason`` column.

    Raises
    ------
    ValueError
        If a required column is missing (the message lists them) or holds text that is not a
        number (the message names the column, row and value).
    """
    frame = pd.read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; a protocol table needs {list(REQUIRED_COLUMNS)} "
                         "(the format of plastyfire's biodata/paired_recordings.csv)")
    numbers = _numbers(frame, path)
    frame[list(REQUIRED_COLUMNS)] = numbers
    if "notes" not in frame.columns:
        frame["notes"] = ""
    reasons = _reasons(frame, numbers)
    skipped = frame[reasons.notna()].assign(reason=reasons[reasons.notna()])
    kept = frame[reasons.isna()].copy().reset_index(drop=True)
    ident = kept["protocol_id"].astype(str) if "protocol_id" in kept.columns else pd.Series(
        [f"row{k}" for k in kept.index])
    kept["label"] = [f"{i} dt={d:+g}ms {f:g}Hz x{int(n)}" for i, d, f, n in
                     zip(ident, kept["dt_train"], kept["frequency_train"], kept["n_stimuli_train"], strict=True)]
    kept["protocol"] = "pairing_train"
    kept["dt_ms"] = kept["dt_train"].astype(float)
    kept["rho_hz"] = kept["frequency_train"].astype(float)
    kept["n_post"] = np.nan
    kept["dw_mean"] = kept["mean_epsp_ratio"].astype(float) - 1.0
    kept["dw_sem"] = kept["sem_epsp_ratio"].astype(float)
    return kept, skipped.reset_index(drop=True)


def table_protocols(kept: pd.DataFrame) -> list[Protocol]:
    """One :class:`Protocol` per kept row (trains of pairs repeated ``n_sweep`` times)."""
    return [
        Protocol.burst_pairing(row.dt_ms * ms, row.rho_hz * Hz, pairs=int(row.n_stimuli_train),
                               bursts=int(row.n_sweep), burst_period=float(row.period_sweep) * second,
                               name=row.label)
        for row in kept.itertuples()
    ]


def score_table(rule: PlasticityRule, kept: pd.DataFrame, name: str = "user table", *,
                target: str = "numpy", progress: bool = False, desc: str | None = None) -> Score:
    """Score ``rule`` on the kept rows of a protocol table (``w0 = 1``, as the datasets).

    The event-driven rules (pair, triplet, Diehl & Cook) are played spike by spike, exactly
    and vectorised over the rows (:func:`~brainlearn.protocols.event_driven.train_weights`):
    the silence between sweeps costs nothing and a million rows take minutes. The voltage
    and calcium rules run in one Brian2 run with the silences shortened
    (:mod:`brainlearn.protocols.runners.gaps`).

    Parameters
    ----------
    rule : PlasticityRule
        The rule to score.
    kept : pandas.DataFrame
        The kept rows of :func:`read_protocol_table`.
    name : str
        Name of the table (the ``dataset`` column of the points).
    target : str
        Brian2 code generation target of the rules that run in Brian2.
    progress : bool
        Show a progress bar over the rows (event-driven rules).
    desc : str, optional
        Label of the progress bar (default: the rule's class).

    Returns
    -------
    Score
        ``points`` hold one row per protocol and ``E`` the fit error over them.
    """
    if is_event_driven(rule):
        w = train_weights(rule, kept["dt_ms"].to_numpy() * ms, kept["rho_hz"].to_numpy() * Hz,
                          kept["n_stimuli_train"].to_numpy(), kept["n_sweep"].to_numpy(),
                          kept["period_sweep"].to_numpy() * second, w0=1.0, progress=progress,
                          desc=desc or type(rule).__name__)
        dw = w - 1.0
    else:
        dw = run_protocol(rule, table_protocols(kept), w0=1.0, target=target)["dw"].to_numpy()
    points = pd.DataFrame({
        "dataset": name, "label": kept["label"], "protocol": kept["protocol"], "dt_ms": kept["dt_ms"],
        "rho_hz": kept["rho_hz"], "n_post": kept["n_post"], "dw_exp": kept["dw_mean"], "sem": kept["dw_sem"],
        "dw_model": dw,
    })
    points["z"] = (points["dw_exp"] - points["dw_model"]) / points["sem"]
    return Score(name, points, fit_error(points["dw_exp"], points["dw_model"], points["sem"]))
