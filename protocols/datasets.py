"""Published plasticity data (``data/stdp_data.csv``) and the protocol behind every point.

Each row of the bundled CSV is one experimental condition: ``dw_mean`` and ``dw_sem`` are
fractional weight changes (after / before - 1), ``source`` says where the numbers were
digitized (``same`` repeats the row above). :func:`dataset_protocols` turns the rows into
:class:`~brainlearn.protocols.engine.Protocol` objects:

- ``sjostrom2001``, ``sjostrom2001_alt`` (Sjostrom, Turrigiano & Nelson 2001, Neuron 32:1149):
  ``structure="bursts"`` (the paper): 5 pairs at rho, 15 bursts 10 s apart (75 pairings);
  at 0.1 Hz 50 single pairs 10 s apart. ``structure="pfister"``: 60 pairs at rho without
  pauses, the simplification Pfister & Gerstner (2006) fitted their visual-cortex sets to.
- ``froemke2006`` (Froemke et al. 2006, approximate digitization, qualitative): post-pre
  pairs (dt = -5 ms, assumed) in bursts of 5 at rho, 15 bursts 10 s apart (assumed);
  a pre spike inside a burst of n post spikes at 100 Hz, the first post 5 ms before the pre
  (assumed), 60 times at 0.2 Hz.
- ``nevian2006`` (Nevian & Sakmann 2006, approximate digitization): a pre spike 10 ms before a
  burst of 3 post spikes at rho, or 3 post spikes at rho and the pre spike 10 ms after the
  last; 60 times at 0.1 Hz.
- ``wittenberg_wang2006`` (Wittenberg & Wang 2006, J Neurosci 26:6610, CA3-CA1): the authors'
  own data release, one point per recorded cell (``data/wittenberg_wang2006.csv``; strength
  after / before and its SEM; dw = ratio - 1). ``fig1d``: a single EPSP paired with a single
  AP at ``dt = t_post - t_pre``; ``fig3e`` and ``fig4d``: an EPSP paired with a burst of two APs,
  ``dt`` from the EPSP to the second AP. ASSUMED (not checked against the paper in this
  version): 100 pairings at 5 Hz, the two APs of a burst 10 ms apart (100 Hz), presynaptic
  spike = EPSP onset; fig4d pairs as fig3e.

The assumed timings are marked here because the digitized points carry no protocol detail.
"""

from __future__ import annotations

import re
from importlib import resources

import pandas as pd
from brian2 import Hz, ms, second

from brainlearn.protocols.engine import Protocol

__all__ = ["DATASETS", "STRUCTURES", "load_dataset", "dataset_protocols", "list_datasets"]

DATASETS = ("sjostrom2001", "sjostrom2001_alt", "froemke2006", "nevian2006", "wittenberg_wang2006")

#: Wittenberg & Wang (2006) pairing protocol -- ASSUMED values, see the module docstring
WW_PAIRINGS = 100
WW_RATE_HZ = 5.0
WW_BURST_ISI_MS = 10.0
STRUCTURES = ("bursts", "pfister")

_DESCRIPTIONS = {
    "sjostrom2001": "Sjostrom 2001 pairing frequency, +/-10 ms at 0.1-50 Hz (VH-Lab digitization)",
    "sjostrom2001_alt": "Sjostrom 2001 pairing frequency incl. 0 and +/-25 ms (BlueBrain digitization)",
    "froemke2006": "Froemke 2006 post-pre frequency and post-burst size (approximate)",
    "nevian2006": "Nevian & Sakmann 2006 pre/post with 3-spike post bursts (approximate)",
    "wittenberg_wang2006": "Wittenberg & Wang 2006 CA3-CA1, one point per cell: single pairings and "
                           "2-AP bursts (pairing count/rate assumed)",
}


def _read_ww() -> pd.DataFrame:
    path = resources.files("brainlearn.protocols").joinpath("data/wittenberg_wang2006.csv")
    with resources.as_file(path) as p:
        raw = pd.read_csv(p, comment="#")
    burst = raw["figure"] != "fig1d"
    return pd.DataFrame({
        "dataset": "wittenberg_wang2006",
        "protocol": ["burst_pairing" if b else "single_pairing" for b in burst],
        "condition": raw["condition"],
        "x1": [f"figure={f}" for f in raw["figure"]],
        "dw_mean": raw["strength_ratio"] - 1.0,
        "dw_sem": raw["sem"],
        "n": 1,
        "source": "gayle-wittenberg/WittenbergWang2006 (commit a78ea8b), WittenbergWang2006.mat",
        "dt_ms": raw["dt_ms"],
        "rho_hz": WW_RATE_HZ,
        "n_post": [2.0 if b else 1.0 for b in burst],
        "figure": raw["figure"],
    })


def _read_csv() -> pd.DataFrame:
    path = resources.files("brainlearn.protocols").joinpath("data/stdp_data.csv")
    with resources.as_file(path) as p:
        frame = pd.read_csv(p)
    source = frame["source"].where(frame["source"] != "same").ffill()
    frame["source"] = source
    return frame


def list_datasets() -> pd.DataFrame:
    """The bundled datasets: ``name``, ``points``, ``description``, ``source``."""
    frame = pd.concat([_read_csv(), _read_ww()], ignore_index=True)
    rows = []
    for name in DATASETS:
        part = frame[frame["dataset"] == name]
        rows.append({"name": name, "points": len(part), "description": _DESCRIPTIONS[name],
                     "source": "; ".join(part["source"].unique())})
    return pd.DataFrame(rows)


def load_dataset(name: str) -> pd.DataFrame:
    """The data points of one dataset, with parsed ``dt_ms``/``rho_hz``/``n`` columns.

    Parameters
    ----------
    name : str
        One of ``sjostrom2001``, ``sjostrom2001_alt``, ``froemke2006``, ``nevian2006``.

    Returns
    -------
    pandas.DataFrame
        The CSV rows (``protocol``, ``condition``, ``x1``, ``dw_mean``, ``dw_sem``, ``n``,
        ``source``) plus ``label`` (a short name per point), ``dt_ms``, ``rho_hz`` and
        ``n_post`` (NaN where a point has no such value).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    if name == "wittenberg_wang2006":
        frame = _read_ww()
        frame["label"] = [f"{f} cell{k} dt={d:+g}ms" for k, (f, d) in enumerate(zip(frame["figure"], frame["dt_ms"],
                                                                                   strict=True))]
        return frame.drop(columns="figure")
    frame = _read_csv()
    frame = frame[frame["dataset"] == name].reset_index(drop=True).drop(columns=["x2"])

    def num(pattern, text):
        m = re.search(pattern, str(text))
        return float(m.group(1)) if m else float("nan")

    frame["dt_ms"] = [num(r"dt=([+-]?[\d.]+)ms", c) for c in frame["condition"]]
    frame["rho_hz"] = [num(r"rho_Hz=([\d.]+)", x) for x in frame["x1"]]
    frame["n_post"] = [num(r"^n=(\d+)", x) for x in frame["x1"]]
    frame["label"] = [_label(r) for r in frame.itertuples()]
    return frame


def _label(row) -> str:
    if row.protocol == "pairing_freq":
        return f"dt={row.dt_ms:+g}ms rho={row.rho_hz:g}Hz"
    if row.protocol == "n_post_spikes":
        return f"n_post={row.n_post:g}"
    return f"{row.protocol} rho={row.rho_hz:g}Hz"


def _pairing(dt_ms: float, rho_hz: float, structure: str, name: str) -> Protocol:
    if structure == "pfister":
        return Protocol.pairing(dt_ms * ms, repetitions=60, frequency=rho_hz * Hz, name=name)
    if rho_hz <= 0.1:
        return Protocol.pairing(dt_ms * ms, repetitions=50, frequency=rho_hz * Hz, name=name)
    return Protocol.burst_pairing(dt_ms * ms, rho_hz * Hz, pairs=5, bursts=15, burst_period=10 * second,
                                  name=name)


def _ww_burst(dt_ms: float, name: str) -> Protocol:
    """An EPSP and two APs ``WW_BURST_ISI_MS`` apart, the second ``dt_ms`` after the EPSP."""
    second_ap = dt_ms
    post = [second_ap - WW_BURST_ISI_MS, second_ap]
    shift = -min(0.0, *post)
    return Protocol([shift] * ms, [p + shift for p in post] * ms, WW_PAIRINGS, 1 / (WW_RATE_HZ * Hz), name)


def dataset_protocols(name: str, structure: str = "bursts") -> list[Protocol]:
    """One :class:`Protocol` per data point of ``name``, in the order of :func:`load_dataset`.

    Parameters
    ----------
    name : str
        Dataset name.
    structure : {"bursts", "pfister"}
        Sjostrom pairing structure: the paper's bursts or Pfister & Gerstner's 60 pairs.
    """
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    protocols = []
    for row in load_dataset(name).itertuples():
        if row.protocol == "pairing_freq":
            protocols.append(_pairing(row.dt_ms, row.rho_hz, structure, row.label))
        elif row.protocol == "postpre_pairing_freq":
            protocols.append(Protocol.burst_pairing(-5 * ms, row.rho_hz * Hz, name=row.label))
        elif row.protocol == "n_post_spikes":
            protocols.append(Protocol.post_burst(int(row.n_post), 100 * Hz, -5 * ms, repetitions=60,
                                                 frequency=0.2 * Hz, name=row.label))
        elif row.protocol == "burst_prepost_3spikes":
            protocols.append(Protocol.post_burst(3, row.rho_hz * Hz, 10 * ms, repetitions=60,
                                                 frequency=0.1 * Hz, name=row.label))
        elif row.protocol == "single_pairing":
            protocols.append(Protocol.pairing(row.dt_ms * ms, WW_PAIRINGS, WW_RATE_HZ * Hz, name=row.label))
        elif row.protocol == "burst_pairing":
            protocols.append(_ww_burst(row.dt_ms, row.label))
        elif row.protocol == "burst_postpre_3spikes":
            protocols.append(Protocol.post_burst(3, row.rho_hz * Hz, 10 * ms, repetitions=60,
                                                 frequency=0.1 * Hz, pre_after_last=True, name=row.label))
        else:  # pragma: no cover - the CSV holds only the protocols above
            raise ValueError(f"no protocol known for {row.protocol!r}")
    return protocols
