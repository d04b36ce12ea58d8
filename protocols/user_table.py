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
from brainlearn.protocols.scoring import Score, fit_error

__all__ = ["REQUIRED_COLUMNS", "PHARMACOLOGY", "read_protocol_table", "table_protocols", "score_table"]

REQUIRED_COLUMNS = ("frequency_train", "dt_train", "n_stimuli_train", "n_sweep", "period_sweep",
                    "mean_epsp_ratio", "sem_epsp_ratio")

#: words in ``notes`` that mark a pharmacological condition (case-insensitive)
PHARMACOLOGY = ("mk-801", "mk801", "apv", "ap5", "ap-5", "nifedipine", "blocker", "to block", "antagonist",
                "in the pipette", "in presynaptic pipette", "bath-applied", "bath applied", "drug")


def _pharmacology(note) -> str | None:
    text = str(note).lower() if isinstance(note, str) else ""
    for word in PHARMACOLOGY:
        if re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", text):
            return word
    return None


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
        If a required column is missing (the message lists them).
    """
    frame = pd.read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; a protocol table needs {list(REQUIRED_COLUMNS)} "
                         "(the format of plastyfire's biodata/paired_recordings.csv)")
    if "notes" not in frame.columns:
        frame["notes"] = ""
    reasons = []
    for row in frame.itertuples(index=False):
        reason = None
        drug = _pharmacology(row.notes)
        numbers = [row.frequency_train, row.dt_train, row.n_stimuli_train, row.n_sweep, row.period_sweep,
                   row.mean_epsp_ratio, row.sem_epsp_ratio]
        if drug is not None:
            reason = f"pharmacology in the notes ({drug!r}): the rules model no drugs"
        elif not all(np.isfinite(pd.to_numeric(numbers, errors="coerce"))):
            reason = "a protocol number or the EPSP ratio is missing"
        elif not row.sem_epsp_ratio > 0:
            reason = f"sem_epsp_ratio must be > 0 to weigh the point, got {row.sem_epsp_ratio}"
        elif row.n_stimuli_train < 1 or row.n_sweep < 1 or row.frequency_train <= 0 or row.period_sweep <= 0:
            reason = "non-positive frequency, period, stimuli or sweeps"
        else:
            train_s = (row.n_stimuli_train - 1) / row.frequency_train + abs(row.dt_train) / 1e3
            if row.n_sweep > 1 and train_s >= row.period_sweep:
                reason = f"the train ({train_s:g} s) does not fit in its sweep period ({row.period_sweep:g} s)"
        reasons.append(reason)
    reasons = pd.Series(reasons, index=frame.index, dtype=object)
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
                target: str = "numpy") -> Score:
    """Score ``rule`` on the kept rows of a protocol table (``w0 = 1``, as the datasets).

    Returns a :class:`~brainlearn.protocols.scoring.Score` whose ``points`` hold one row per
    protocol and ``E`` the fit error over them.
    """
    frame = run_protocol(rule, table_protocols(kept), w0=1.0, target=target)
    points = pd.DataFrame({
        "dataset": name, "label": kept["label"], "protocol": kept["protocol"], "dt_ms": kept["dt_ms"],
        "rho_hz": kept["rho_hz"], "n_post": kept["n_post"], "dw_exp": kept["dw_mean"], "sem": kept["dw_sem"],
        "dw_model": frame["dw"].to_numpy(),
    })
    points["z"] = (points["dw_exp"] - points["dw_model"]) / points["sem"]
    return Score(name, points, fit_error(points["dw_exp"], points["dw_model"], points["sem"]))
