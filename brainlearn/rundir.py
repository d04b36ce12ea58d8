"""The run directory: what a brainlearn run writes, and how anything reads it back.

Every producer (Diehl & Cook train and evaluate, the demo, conversion, surrogate training,
protocols, sweeps) writes its run directory through this module, and
:mod:`brainlearn.analysis` reads it through this module. A run directory holds:

=========================  ===============================================================
``config.json``            the options the run was started with; ``kind`` names the producer
``metrics.json``           results, merged by every stage (:func:`update_metrics`)
``spikes.parquet``         recorded spikes, one row each: ``population``, ``neuron``, ``t`` (s),
                           optionally ``example`` and ``label`` (:func:`write_spikes`)
``examples.parquet``       one row per presented example: ``example``, ``start`` (s),
                           ``duration`` (s), optionally ``label`` (:func:`write_examples`).
                           Durations are those of the presentations actually shown: a Diehl &
                           Cook image shown again after too few spikes lasts longer.
``assign_spikes.parquet``  the spikes a readout sees of every label-assignment (training)
                           example: those its spike counts were taken from (a Diehl &
                           Cook image's last presentation's input window), ``t`` (s) from
                           the start of that window, with ``example`` and ``label``
                           (:func:`write_window_spikes`, :func:`read_window_spikes`)
``test_spikes.parquet``    the same for the test examples
``weights.npz``            learned weights, key ``weights`` an ``(n_inputs, n_neurons)`` matrix
``states.h5``              optional state snapshots (``brainlearn.analysis.write_states``)
``*.png``                  figures
``.brainlearn.lock``       the lock of the process writing the run (:func:`lock_run`);
                           removed when it ends cleanly, harmless when left by a kill
``eval_chunks/``,          the finished chunks of an evaluation that has not ended yet
``evaluation_parts/``      (Diehl & Cook, LC-SNN; :class:`PartStore`), removed when its
                           results are written
=========================  ===============================================================

Every file appears under its final name only once complete (:mod:`brainlearn.atomic`), and
:func:`new_run` removes a directory it created when the run fails before its first result,
so the same command works again once the cause is fixed.

A run directory belongs to one process at a time: every writer holds its lock
(:func:`lock_run`, :func:`locked`; :func:`new_run` takes it), an ``fcntl.flock`` on
``.brainlearn.lock`` inside it that the kernel releases when the holder exits, however it
exits (:mod:`brainlearn.runlock`). A second writer is refused in one line naming the
holder's process id.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path, save_npz
from brainlearn.runlock import LOCK, RunInUseError, check_free, lock_run, locked

__all__ = [
    "CONFIG",
    "METRICS",
    "SPIKES",
    "EXAMPLES",
    "WEIGHTS",
    "STATES",
    "SPIKE_META_KEY",
    "LOCK",
    "RunInUseError",
    "lock_run",
    "locked",
    "check_free",
    "open_run",
    "new_run",
    "write_json",
    "json_text",
    "read_json",
    "write_config",
    "read_config",
    "read_metrics",
    "update_metrics",
    "examples_table",
    "examples_from_presentations",
    "write_examples",
    "read_examples",
    "spike_schema",
    "write_spikes",
    "WINDOW_SPIKES",
    "write_window_spikes",
    "read_window_spikes",
    "write_weights",
    "read_weights",
    "code_version",
    "PartStore",
]

CONFIG = "config.json"
METRICS = "metrics.json"
SPIKES = "spikes.parquet"
EXAMPLES = "examples.parquet"
WEIGHTS = "weights.npz"
STATES = ("states.h5", "states.parquet")
#: per stage, the file of the spikes a readout sees (:func:`write_window_spikes`)
WINDOW_SPIKES = {"assign": "assign_spikes.parquet", "test": "test_spikes.parquet"}
#: key of the spike table's description in the Parquet schema metadata
SPIKE_META_KEY = b"brainlearn"


def open_run(run_dir: str | os.PathLike) -> Path:
    """The path of an existing run directory; a missing one raises one clear error."""
    path = Path(run_dir)
    if not path.is_dir():
        what = "is a file, not a run directory" if path.exists() else "does not exist"
        raise FileNotFoundError(f"run directory {run_dir} {what}")
    return path


@contextlib.contextmanager
def new_run(run_dir: str | os.PathLike, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Create ``run_dir`` for a run and hold its lock; remove it again if the block fails.

    The lock (:func:`lock_run`) is taken before anything is written and released when the
    block ends: a second process writing the same directory is refused (its message names
    this process's id). Only a directory this call created is removed (an existing one is
    left as it was), so a failed start (missing data, a bad cache, a wrong option) leaves
    nothing behind and the same command works once the cause is fixed. A created directory
    that already holds one of the files named in ``keep`` (e.g. ``"checkpoint.pt"``) is
    kept: the run can resume.

    Examples
    --------
    >>> with new_run("runs/n100") as run:          # doctest: +SKIP
    ...     write_config(run, {"kind": "diehl_cook", "neurons": 100})
    """
    path = Path(run_dir)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{run_dir} is a file, not a run directory")
    created = not path.exists()
    with lock_run(path):
        try:
            yield path
        except BaseException:
            if created and not any((path / name).is_file() for name in keep):
                for child in path.iterdir():  # everything but the lock, released after this
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    elif child.name != LOCK:
                        child.unlink(missing_ok=True)
            raise


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _finite(obj):
    # NaN and infinities -> None, through dicts, lists, tuples and numpy values
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (np.ndarray, np.generic)):
        return _finite(obj.tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def json_text(data, **options) -> str:
    """``data`` as strict JSON text: ``NaN`` and infinities become ``null``.

    Python's ``json`` writes ``NaN`` by default, which no other JSON reader accepts; every
    ``config.json``, ``metrics.json`` and sweep record is written through this function
    (``allow_nan=False``), so a metric that could not be computed reads back as ``None``.
    Numpy values become plain numbers and lists; other objects their ``str``. ``options``
    go to :func:`json.dumps` (``indent``, ``sort_keys``).
    """
    return json.dumps(_finite(data), allow_nan=False, default=_json_default, **options)


def write_json(path: str | os.PathLike, data: Mapping) -> Path:
    """Write ``data`` as strict JSON (:func:`json_text`) to ``path`` atomically (temp file,
    then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(dict(data), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(path)


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object from ``path`` ({} when absent); a damaged file raises one clear error."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def write_config(run_dir: str | os.PathLike, config: Mapping, kind: str | None = None) -> Path:
    """Write ``config.json``; ``kind`` (the producer's name) is stored with it."""
    data = dict(config)
    if kind is not None:
        data["kind"] = kind
    return write_json(Path(run_dir) / CONFIG, data)


def read_config(run_dir: str | os.PathLike, required: bool = False) -> dict:
    """``config.json`` of a run ({} when absent, unless ``required``)."""
    root = open_run(run_dir)
    if required and not (root / CONFIG).exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no {CONFIG})")
    return read_json(root / CONFIG)


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """``metrics.json`` of a run ({} when absent)."""
    return read_json(open_run(run_dir) / METRICS)


def update_metrics(run_dir: str | os.PathLike, metrics: Mapping) -> dict:
    """Merge ``metrics`` into ``metrics.json`` (atomically) and return the merged dict."""
    merged = {**read_metrics(run_dir), **dict(metrics)}
    write_json(Path(run_dir) / METRICS, merged)
    return merged


def examples_table(start, duration, labels=None) -> pd.DataFrame:
    """The table of presented examples: ``example``, ``start`` (s), ``duration`` (s), ``label``.

    Parameters
    ----------
    start : array of float
        Start time of every example in seconds (example ``k`` is row ``k``).
    duration : array of float or float
        How long each example was shown, in seconds (one value: the same for all).
    labels : array of int, optional
        Class of every example.
    """
    start = np.asarray(start, dtype=np.float64).ravel()
    duration = np.broadcast_to(np.asarray(duration, dtype=np.float64), start.shape).copy()
    if start.size and (not np.all(np.isfinite(duration)) or duration.min() <= 0):
        raise ValueError("example durations must be positive and finite")
    frame = pd.DataFrame({"example": np.arange(start.size, dtype=np.int64), "start": start,
                          "duration": duration})
    if labels is not None:
        labels = np.asarray(labels).astype(np.int64).ravel()
        if labels.shape != start.shape:
            raise ValueError(f"{start.size} examples but {labels.size} labels")
        frame["label"] = labels
    return frame


def examples_from_presentations(example, start, period: float, labels=None) -> pd.DataFrame:
    """Examples from the presentations actually shown (an example may be shown repeatedly).

    Example ``k`` starts at its first presentation and lasts ``period`` per presentation.

    Parameters
    ----------
    example : array of int
        The example each presentation showed (0 .. n-1, every example at least once).
    start : array of float
        Start time of each presentation in seconds.
    period : float
        Length of one presentation in seconds.
    labels : array of int, optional
        Class of every example.
    """
    example = np.asarray(example, dtype=np.int64).ravel()
    start = np.asarray(start, dtype=np.float64).ravel()
    if example.shape != start.shape:
        raise ValueError(f"{example.size} presentation examples but {start.size} start times")
    n = int(example.max()) + 1 if example.size else 0
    shown = np.bincount(example, minlength=n)
    if np.any(shown == 0):
        raise ValueError(f"examples {np.nonzero(shown == 0)[0][:5].tolist()} were never presented")
    first = np.full(n, np.inf)
    np.minimum.at(first, example, start)
    return examples_table(first, shown * float(period), None if labels is None else np.asarray(labels)[:n])


def write_examples(run_dir: str | os.PathLike, examples: pd.DataFrame) -> Path:
    """Write the table of presented examples (see :func:`examples_table`) atomically."""
    missing = {"example", "start", "duration"} - set(examples.columns)
    if missing:
        raise ValueError(f"an examples table needs the columns {sorted(missing)}")
    with atomic_path(Path(run_dir) / EXAMPLES) as tmp:
        examples.to_parquet(tmp, index=False)
    return Path(run_dir) / EXAMPLES


def read_examples(run_dir: str | os.PathLike) -> pd.DataFrame | None:
    """The run's table of presented examples, or None when it recorded none."""
    path = open_run(run_dir) / EXAMPLES
    if not path.exists():
        return None
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow.ArrowInvalid, OSError
        raise ValueError(f"{path}: not a readable examples table ({exc})") from None
    if not {"example", "start", "duration"} <= set(frame.columns):
        raise ValueError(f"{path}: not an examples table (columns {list(frame.columns)})")
    return frame


def spike_schema(meta: Mapping):
    """The pyarrow schema of a Parquet spike file with its description ``meta``.

    ``population`` is a dictionary column (pandas reads it as a categorical), ``neuron``,
    ``example`` and ``label`` int64, ``t`` float64 seconds (exact), and ``meta`` (populations,
    columns, attrs; see ``brainlearn.analysis.spikes.table_meta``) is stored as JSON under
    :data:`SPIKE_META_KEY`.
    """
    import pyarrow as pa

    types = {"neuron": pa.int64(), "t": pa.float64(), "example": pa.int64(), "label": pa.int64()}
    fields = [pa.field("population", pa.dictionary(pa.int32(), pa.string()))]
    fields += [pa.field(c, types[c]) for c in meta["columns"][1:]]
    return pa.schema(fields, metadata={SPIKE_META_KEY: json.dumps(dict(meta)).encode()})


def write_spikes(
    run_dir: str | os.PathLike,
    neuron,
    t,
    *,
    population,
    n_neurons,
    example=None,
    examples: pd.DataFrame | None = None,
    duration: float | None = None,
) -> Path:
    """Write a run's recorded spikes and, with ``example``, its examples.

    Parameters
    ----------
    run_dir : path
        The run directory.
    neuron : array of int
        Neuron index of every spike (within its population).
    t : array of float
        Spike times in seconds.
    population : str or array of str
        Name of the population (one for all spikes, or one per spike).
    n_neurons : int or dict
        Population size (silent neurons count in rates); a dict ``{name: size}`` for several
        populations, in the order they are listed.
    example : array of int, optional
        The example each spike belongs to; needs ``examples``.
    examples : DataFrame, optional
        The presented examples (:func:`examples_table`); labels of the spikes come from its
        ``label`` column. Written to ``examples.parquet``.
    duration : float, optional
        Recorded time in seconds (default: the end of the last example, if any).
    """
    neuron = np.asarray(neuron, dtype=np.int64).ravel()
    t = np.asarray(t, dtype=np.float64).ravel()
    if neuron.shape != t.shape:
        raise ValueError(f"{neuron.size} neuron indices but {t.size} spike times")
    sizes = ({str(k): int(v) for k, v in n_neurons.items()} if isinstance(n_neurons, Mapping)
             else {str(population): int(n_neurons)})
    names = list(sizes)
    if isinstance(population, str):
        if population not in sizes:
            raise ValueError(f"population {population!r} has no size in n_neurons")
        codes = np.full(neuron.size, names.index(population), dtype=np.int32)
    else:
        codes = pd.Categorical(np.asarray(population).ravel(), categories=names).codes
        if codes.shape != neuron.shape or np.any(codes < 0):
            raise ValueError(f"every spike needs a population among {names}")
        codes = codes.astype(np.int32)
    limit = np.array([sizes[p] for p in names])[codes] if neuron.size else neuron
    if neuron.size and (neuron.min() < 0 or np.any(neuron >= limit)):
        raise ValueError(f"neuron indices must lie within their population's size {sizes}")
    columns = {"neuron": neuron, "t": t}
    if example is not None:
        if examples is None:
            raise ValueError("spikes with an example column need the examples table")
        columns["example"] = np.asarray(example, dtype=np.int64).ravel()
        if columns["example"].size and columns["example"].max() >= len(examples):
            raise ValueError(f"spikes name example {columns['example'].max()}, "
                             f"but only {len(examples)} examples were presented")
        if "label" in examples.columns:
            columns["label"] = examples["label"].to_numpy(np.int64)[columns["example"]]
    if duration is None and examples is not None and len(examples):
        duration = float((examples["start"] + examples["duration"]).max())
    attrs: dict = {"n_neurons": sizes}
    if duration is not None:
        attrs["duration"] = float(duration)
    if examples is not None:
        write_examples(run_dir, examples)
    return _write_spike_file(Path(run_dir) / SPIKES, names, codes, columns, attrs)


def _write_spike_file(path: Path, names: list[str], codes: np.ndarray, columns: dict,
                      attrs: dict) -> Path:
    """Write a spike table (population ``codes`` into ``names``, then ``columns``) to
    ``path`` in the canonical order, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {"format": "brainlearn-spikes", "version": 1, "populations": names,
            "columns": ["population", *columns], "attrs": attrs}
    order = np.lexsort((columns["neuron"], columns["t"], codes))  # population, time, neuron
    arrays = [pa.DictionaryArray.from_arrays(pa.array(codes[order]), pa.array(names, pa.string()))]
    arrays += [pa.array(values[order]) for values in columns.values()]
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_arrays(arrays, schema=spike_schema(meta)), tmp)
    return path


def write_window_spikes(run_dir: str | os.PathLike, stage: str, neuron, t, example, labels, *,
                        population: str, n_neurons: int, window: float) -> Path:
    """Write the spikes a readout sees of each example of ``stage``, timed from the example.

    ``t`` runs from the start of the window the example's spike counts were taken from, so
    ``example`` and ``t`` give every example's spike train. File: ``WINDOW_SPIKES[stage]``.

    Parameters
    ----------
    run_dir : path
        The run directory.
    stage : str
        ``"assign"`` (the label-assignment, i.e. training, examples) or ``"test"``.
    neuron, t, example : arrays
        Neuron index, time in seconds from the example's window start (0 <= t < ``window``)
        and example index of every spike.
    labels : array of int
        Class of every example (their number is the number of examples, silent ones too).
    population : str
        Name of the recorded population.
    n_neurons : int
        Its size.
    window : float
        Length of each example's window in seconds.
    """
    if stage not in WINDOW_SPIKES:
        raise ValueError(f"stage must be one of {sorted(WINDOW_SPIKES)}, got {stage!r}")
    neuron = np.asarray(neuron, dtype=np.int64).ravel()
    t = np.asarray(t, dtype=np.float64).ravel()
    example = np.asarray(example, dtype=np.int64).ravel()
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if not neuron.shape == t.shape == example.shape:
        raise ValueError(f"{neuron.size} neuron indices, {t.size} times, {example.size} examples")
    if neuron.size and (neuron.min() < 0 or neuron.max() >= n_neurons):
        raise ValueError(f"neuron indices must lie within 0..{n_neurons - 1}")
    if example.size and (example.min() < 0 or example.max() >= labels.size):
        raise ValueError(f"spikes name example {example.max()}, but only {labels.size} "
                         "examples have labels")
    if t.size and (t.min() < 0 or t.max() >= window):
        raise ValueError(f"spike times must lie within each example's window [0, {window}) s, "
                         f"got {t.min()} .. {t.max()}")
    columns = {"neuron": neuron, "t": t, "example": example, "label": labels[example]}
    attrs = {"n_neurons": {population: int(n_neurons)}, "time_origin": "example window",
             "window": float(window), "n_examples": int(labels.size),
             "labels": labels.tolist()}
    path = Path(run_dir) / WINDOW_SPIKES[stage]
    return _write_spike_file(path, [population], np.zeros(neuron.size, np.int32), columns, attrs)


def read_window_spikes(run_dir: str | os.PathLike, stage: str) -> tuple[pd.DataFrame, dict]:
    """The spikes a readout sees of each example of ``stage`` and their description.

    Returns
    -------
    spikes : DataFrame
        ``neuron``, ``t`` (s from the example's window start), ``example``, ``label``.
    attrs : dict
        ``window`` (s), ``n_examples``, ``labels`` (one per example), ``n_neurons``.

    Raises
    ------
    FileNotFoundError
        When the run recorded none (evaluated before brainlearn recorded them).
    """
    import pyarrow.parquet as pq

    if stage not in WINDOW_SPIKES:
        raise ValueError(f"stage must be one of {sorted(WINDOW_SPIKES)}, got {stage!r}")
    path = open_run(run_dir) / WINDOW_SPIKES[stage]
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: {run_dir} has no recorded spike timing of its {stage} examples "
            f"(it was evaluated before brainlearn recorded them); evaluate it again, e.g. "
            f"brainlearn mnist evaluate {run_dir}")
    try:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[SPIKE_META_KEY])
    except Exception as exc:  # pyarrow.ArrowInvalid, OSError, KeyError
        raise ValueError(f"{path}: not a readable spike table ({exc})") from None
    frame = table.to_pandas()[["neuron", "t", "example", "label"]]
    attrs = meta["attrs"]
    attrs["labels"] = np.asarray(attrs["labels"], dtype=np.int64)
    return frame, attrs


def write_weights(run_dir: str | os.PathLike, weights: np.ndarray, **arrays) -> Path:
    """Write ``weights.npz``: ``weights`` an ``(n_inputs, n_neurons)`` matrix, plus ``arrays``."""
    return save_npz(Path(run_dir) / WEIGHTS, weights=np.asarray(weights), **arrays)


def read_weights(run_dir: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """The arrays of ``weights.npz`` (None when the run saved none)."""
    path = open_run(run_dir) / WEIGHTS
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError
        raise ValueError(f"{path}: corrupt or unreadable ({exc})") from None


def code_version() -> str | None:
    """The git commit of the package source (``-dirty`` with uncommitted changes), when it
    runs from a checkout; else None."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False, timeout=10)
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


class PartStore:
    """The finished parts of a long job, kept in a folder of its run directory until the
    job's results are written, so that a job stopped part-way (a kill, a full disk, the end
    of a session) runs only the parts it lacks when it is started again.

    Each part is one compressed ``.npz`` per ``(stage, index)``, written atomically by
    whichever process ran it. ``key.json`` names what the parts depend on (the caller's
    ``key``: the weights' digest, the configuration, ...); :meth:`open` discards parts kept
    under any other key, so a part is never merged into a job it does not belong to.
    """

    KEY = "key.json"

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    @classmethod
    def open(cls, folder: str | os.PathLike, key: Mapping) -> PartStore:
        """The parts kept in ``folder`` for ``key``; parts kept for another key (or under a
        damaged ``key.json``) are removed."""
        store = cls(folder)
        key = json.loads(json_text(dict(key)))  # as it reads back from the file
        try:
            same = read_json(store.folder / cls.KEY) == key
        except ValueError:
            same = False
        if not same:
            store.remove()
            store.folder.mkdir(parents=True)
            write_json(store.folder / cls.KEY, key)
        return store

    def path(self, stage: str, k: int) -> Path:
        """The file of part ``k`` of ``stage``."""
        return self.folder / f"{stage}_{int(k):06d}.npz"

    def has(self, stage: str, k: int) -> bool:
        """Whether part ``k`` of ``stage`` is kept."""
        return self.path(stage, k).is_file()

    def save(self, stage: str, k: int, **arrays) -> None:
        """Keep ``arrays`` as part ``k`` of ``stage`` (compressed, atomically)."""
        with atomic_path(self.path(stage, k)) as tmp:
            np.savez_compressed(tmp, **arrays)

    def load(self, stage: str, k: int) -> dict[str, np.ndarray]:
        """The arrays of part ``k`` of ``stage``; a damaged file raises one clear error."""
        path = self.path(stage, k)
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError
            raise ValueError(f"{path}: corrupt or unreadable ({exc})") from None

    def kept(self, stage: str, k: int) -> dict[str, np.ndarray] | None:
        """The arrays of part ``k`` of ``stage``, or None when it is not kept; a damaged
        part is removed (and so run again)."""
        if not self.has(stage, k):
            return None
        try:
            return self.load(stage, k)
        except ValueError:
            self.path(stage, k).unlink(missing_ok=True)
            return None

    def remove(self) -> None:
        """Remove the folder and everything in it."""
        shutil.rmtree(self.folder, ignore_errors=True)
