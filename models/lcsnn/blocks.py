"""The authors' running readouts: every block of training images scored as it is learnt, and
the best block's network kept, as Saunders et al.'s script does.

The script of the paper's runs (``experiments/mnist/crop_locally_connected.py`` of
BINDS-LAB-UMASS/bindsnet_experiments) records the spikes of each training image while the
network learns and, after every ``update_interval`` (250) images,

1. scores the block just learnt with readouts built from the earlier blocks' spikes: BindsNET's
   ``all_activity`` vote, ``proportion_weighting`` and ``ngram``;
2. if one of the three beats the best block score so far, saves the network as it is after
   the block, with those readouts (built before the block);
3. adds the block to the readouts: each cell's mean count per class is added to its ``rates``
   (``assign_labels`` with ``alpha = 1``), a cell is assigned the class of its largest
   proportion ``rates / rates.sum()``, and the block's n-gram counts are added
   (``update_ngram_scores``).

Its test mode loads the saved network, frozen, with the saved readouts and scores the test
set: so the published accuracy is that of the best block's network and of readouts counted
on the training pass while it learnt, not of the network at the end with readouts fitted
afterwards.

brainlearn keeps what that needs in every LC-SNN run directory trained on MNIST
(:func:`~brainlearn.models.lcsnn.training.train`): ``train_spikes/`` (each chunk's
training spikes, from which the readouts are rebuilt on resume), ``blocks.csv`` (the block
scores) and ``best_block.npz`` (weights and thresholds after the best block, its position
and scores). :func:`~brainlearn.models.lcsnn.training.evaluate_authors` shows the test set to
that network, frozen, and scores it with the readouts of the blocks before it.

Reference: D. J. Saunders, D. Patel, H. Hazan, H. T. Siegelmann, R. Kozma (2019), Locally
connected spiking neural networks for unsupervised feature learning, Neural Networks
119:332-340.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path, save_npz
from brainlearn.models.lcsnn.readouts import NgramReadout, firing_steps

__all__ = ["RUNNING_READOUTS", "TRAIN_SPIKES", "BEST", "BLOCKS", "BEST_RUN", "RunningReadouts",
           "BlockRecord", "replay", "score_test"]

#: the authors' three running readouts (BindsNET's ``all``, ``proportion`` and ``ngram``)
RUNNING_READOUTS = ("vote", "proportion", "ngram")
#: folder of a run directory with each training chunk's spikes
TRAIN_SPIKES = "train_spikes"
#: the best block's network: weights, thresholds, position and scores
BEST = "best_block.npz"
#: the block scores, one row per block
BLOCKS = "blocks.csv"
#: run directory (inside the run's) where the best block's network is evaluated: two levels
#: down, so that ``brainlearn compare RUN`` does not take it for a run of its own (it reads
#: a run's direct subdirectories); its accuracies are the run's ``authors_*`` metrics
BEST_RUN = "authors/best_block"


class RunningReadouts:
    """BindsNET's readouts of the time, built block by block (``assign_labels``,
    ``all_activity``, ``proportion_weighting``, ``update_ngram_scores``, ``ngram``).

    ``rates[c, k]`` sums, over the blocks added, the mean count of cell ``c`` on the block's
    images of class ``k``; ``proportions = rates / rates.sum(axis=1)`` (0 for a silent cell),
    and a cell's class is its largest proportion (class 0 for a cell that never fired, as in
    BindsNET; no class at all before the first block). The vote predicts the class whose
    cells have the largest mean count; the proportion readout weights each count by the
    cell's proportion for the class; the n-gram readout is :class:`NgramReadout`. With
    ``n[i, c]`` the count of cell ``c`` on image ``i`` and ``a[c]`` its class::

        rates[c, k] += mean over the block's images i of class k of n[i, c]
        p[c, k] = rates[c, k] / sum_k rates[c, k]
        vote(i) = argmax_k mean over cells c with a[c] = k of n[i, c]
        proportion(i) = argmax_k mean over cells c with a[c] = k of p[c, k] * n[i, c]

    Ties go to the first class (``np.argmax``; BindsNET sorts, which leaves ties to torch).

    Parameters
    ----------
    n_neurons : int
        Cells of the layer.
    n_classes : int
        Classes.
    n : int
        n-gram length (the paper: 2).
    """

    def __init__(self, n_neurons: int, n_classes: int = 10, n: int = 2) -> None:
        self.n_classes = int(n_classes)
        self.rates = np.zeros((int(n_neurons), self.n_classes))
        self.assigned = False
        self.ngram = NgramReadout(n=n, n_classes=n_classes)
        self.ngram.scores_ = {}

    @property
    def proportions(self) -> np.ndarray:
        """``rates`` normalised per cell (0 where a cell never fired)."""
        total = self.rates.sum(axis=1, keepdims=True)
        return np.divide(self.rates, total, out=np.zeros_like(self.rates), where=total > 0)

    @property
    def assignments(self) -> np.ndarray:
        """Each cell's class (``-1`` for every cell before the first block)."""
        if not self.assigned:
            return np.full(len(self.rates), -1)
        return np.argmax(self.proportions, axis=1)

    def predict(self, counts: np.ndarray, firing: list) -> dict[str, np.ndarray]:
        """Predictions of the three readouts for images with spike ``counts`` ``(images,
        cells)`` and ``firing`` (:func:`firing_steps`)."""
        counts = np.asarray(counts, dtype=float)
        assignments, proportions = self.assignments, self.proportions
        vote = np.zeros((len(counts), self.n_classes))
        weighted = np.zeros_like(vote)
        for k in range(self.n_classes):
            cells = assignments == k
            if cells.any():
                vote[:, k] = counts[:, cells].sum(axis=1) / cells.sum()
                weighted[:, k] = ((counts[:, cells] * proportions[cells, k]).sum(axis=1)
                                  / cells.sum())
        return {"vote": np.argmax(vote, axis=1), "proportion": np.argmax(weighted, axis=1),
                "ngram": self.ngram.predict(firing)}

    def score(self, counts: np.ndarray, firing: list, labels) -> dict[str, float]:
        """Accuracy (fraction) of each readout on the images ``labels`` names."""
        labels = np.asarray(labels)
        return {k: float(np.mean(v == labels)) for k, v in self.predict(counts, firing).items()}

    def update(self, counts: np.ndarray, firing: list, labels) -> None:
        """Add a block: its mean counts per class to ``rates``, its n-grams to the scores."""
        counts = np.asarray(counts, dtype=float)
        labels = np.asarray(labels, dtype=np.int64)
        for k in range(self.n_classes):
            mask = labels == k
            if mask.any():
                self.rates[:, k] += counts[mask].sum(axis=0) / mask.sum()
        self.assigned = True
        self.ngram.partial_fit(firing, labels)


def _small(values: np.ndarray) -> np.ndarray:
    """Non-negative indices as 16-bit integers where they fit (half the disk), else 32."""
    values = np.asarray(values)
    fits = len(values) == 0 or int(values.max()) < np.iinfo(np.int16).max
    return values.astype(np.int16 if fits else np.int32)


def _chunk_file(folder: Path, start: int) -> Path:
    return folder / f"chunk_{int(start):08d}.npz"


def _block(path: Path, n_neurons: int) -> tuple[int, int, np.ndarray, list]:
    """``(start, images, counts, firing)`` of a stored chunk."""
    with np.load(path) as f:
        start, n = int(f["start"]), int(f["images"])
        example, step, neuron = f["spike_example"], f["spike_step"], f["spike_neuron"]
    counts = np.zeros((n, n_neurons), dtype=np.int64)
    np.add.at(counts, (example, neuron), 1)
    return start, n, counts, firing_steps(example, step, neuron, n)


def replay(run_dir: str | Path, labels: np.ndarray, n_neurons: int, upto: int,
           readouts: RunningReadouts | None = None,
           since: int = 0) -> tuple[RunningReadouts, list[dict]]:
    """The running readouts and block scores of a run's stored chunks that start at
    ``since`` images or later and before ``upto`` (each block scored, then added, in order;
    ``readouts``, built from the blocks before ``since``, are continued).

    Parameters
    ----------
    run_dir : path
        Run directory with ``train_spikes/``.
    labels : ndarray
        Labels of the training images (image ``i`` of the run is ``labels[i % len]``).
    n_neurons : int
        Cells of the layer.
    upto : int
        Blocks that start at or after this position are left out.
    readouts : RunningReadouts, optional
        Readouts to continue (default: new ones).
    since : int
        Blocks that start before this position are left out (already in ``readouts``).

    Returns
    -------
    tuple
        ``(readouts, rows)``: the readouts after the blocks, one row of scores per block.
    """
    readouts = readouts or RunningReadouts(n_neurons)
    rows = []
    folder = Path(run_dir) / TRAIN_SPIKES
    files = sorted(folder.glob("chunk_*.npz")) if folder.is_dir() else []
    for path in files:
        if not since <= int(path.stem.removeprefix("chunk_")) < upto:
            continue
        start, n, counts, firing = _block(path, n_neurons)
        y = labels[(start + np.arange(n)) % len(labels)]
        rows.append({"start": start, "end": start + n, **readouts.score(counts, firing, y)})
        readouts.update(counts, firing, y)
    return readouts, rows


class BlockRecord:
    """The training side: keeps each chunk's spikes, scores the block, keeps the best block's
    network (steps 1-3 of the module's description), and resumes with the run.

    Parameters
    ----------
    run : Path
        The run directory.
    labels : ndarray
        Labels of the training images.
    n_neurons : int
        Cells of the layer.
    position : int
        Images trained already (the checkpoint's position): chunks from there on are shown
        again, so what is stored from there on is not read.
    """

    def __init__(self, run: Path, labels: np.ndarray, n_neurons: int, position: int) -> None:
        self.run, self.labels, self.n_neurons = Path(run), np.asarray(labels), int(n_neurons)
        self.readouts, self.rows = replay(self.run, self.labels, self.n_neurons, int(position))
        # a run started before brainlearn kept the record resumes without one: a record of
        # the later blocks alone would read them with readouts that miss the earlier ones
        self.active = sum(r["end"] - r["start"] for r in self.rows) == int(position)
        if self.active:
            (self.run / TRAIN_SPIKES).mkdir(exist_ok=True)
        # the script's best_accuracy starts at 0: a block is kept when it scores above that
        self.best = max((max(r[k] for k in RUNNING_READOUTS) for r in self.rows), default=0.0)

    def add(self, start: int, example: np.ndarray, step: np.ndarray, neuron: np.ndarray,
            counts: np.ndarray, weights: np.ndarray, theta: np.ndarray) -> dict:
        """Store a trained chunk's spikes, score it, keep the network if it is the best block
        so far, then add it to the readouts; returns its row of scores (``{}`` for a run
        without a record)."""
        if not self.active:
            return {}
        n = len(counts)
        save_npz(_chunk_file(self.run / TRAIN_SPIKES, start), start=start, images=n,
                 spike_example=_small(example), spike_step=_small(step),
                 spike_neuron=_small(neuron))
        firing = firing_steps(example, step, neuron, n)
        y = self.labels[(start + np.arange(n)) % len(self.labels)]
        row = {"start": int(start), "end": int(start + n), **self.readouts.score(counts, firing, y)}
        top = max(row[k] for k in RUNNING_READOUTS)
        if top > self.best:  # the script: "New best accuracy! Saving network parameters"
            save_npz(self.run / BEST, weights=weights, theta=theta, start=row["start"],
                     end=row["end"], **{f"block_{k}": row[k] for k in RUNNING_READOUTS})
            self.best = top
        self.readouts.update(counts, firing, y)
        self.rows.append(row)
        return row

    def finish(self) -> dict:
        """Write ``blocks.csv``; the metrics of the best block."""
        if not self.active:
            return {}
        table = pd.DataFrame(self.rows, columns=["start", "end", *RUNNING_READOUTS])
        with atomic_path(self.run / BLOCKS) as tmp:
            table.to_csv(tmp, index=False, float_format="%.4f")
        if not (self.run / BEST).exists():
            return {}
        with np.load(self.run / BEST) as f:
            return {"best_block_end": int(f["end"]),
                    **{f"best_block_{k}": float(f[f"block_{k}"]) for k in RUNNING_READOUTS}}


def score_test(readouts: RunningReadouts, arrays) -> dict[str, float]:
    """Accuracy of each running readout on the test images of an ``evaluation.npz``."""
    firing = firing_steps(arrays["test_spike_example"], arrays["test_spike_step"],
                          arrays["test_spike_neuron"], len(arrays["test_labels"]))
    return readouts.score(arrays["test_counts"], firing, arrays["test_labels"])
