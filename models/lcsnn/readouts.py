"""Readouts of the LC-SNN: vote, the paper's n-gram readout, logistic and online.

The vote, logistic and online readouts are brainlearn's (:mod:`brainlearn.readout`), fitted on
spike counts. The n-gram readout (Saunders et al. 2019, BindsNET's ``update_ngram_scores`` and
``ngram``) reads the order in which cells fire: fitting counts, for every class, each
sequence of ``n`` cells that fire in ``n`` consecutive active time steps; predicting sums the
counts of the consecutive ``n``-cell sequences of an image's firing order and takes the class
with the largest sum.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from brainlearn.readout import LogisticReadout, OnlineReadout, VoteReadout

__all__ = ["NgramReadout", "READOUTS", "make_readout", "firing_steps"]

#: readout names, in the order of the comparison rows
READOUTS = ("vote", "ngram", "logistic", "online")


def firing_steps(example: np.ndarray, step: np.ndarray, neuron: np.ndarray,
                 n_examples: int) -> list[list[np.ndarray]]:
    """Per image, the cells that fired in each active time step, in time order.

    Parameters
    ----------
    example, step, neuron : ndarray
        One entry per spike: the image (0-based), the time step within its presentation and
        the cell.
    n_examples : int
        Number of images.

    Returns
    -------
    list of list of ndarray
        ``out[e]`` lists image ``e``'s active steps, each the sorted cells firing in it.
    """
    order = np.lexsort((neuron, step, example))
    example, step, neuron = example[order], step[order], neuron[order]
    out: list[list[np.ndarray]] = [[] for _ in range(int(n_examples))]
    if len(example) == 0:
        return out
    breaks = np.flatnonzero((np.diff(example) != 0) | (np.diff(step) != 0)) + 1
    for group in np.split(np.arange(len(example)), breaks):
        out[int(example[group[0]])].append(neuron[group])
    return out


class NgramReadout:
    """The n-gram readout of Saunders et al. (2019), as BindsNET computes it.

    Parameters
    ----------
    n : int
        Sequence length (the paper: 2).
    n_classes : int
        Number of classes.

    Attributes
    ----------
    scores_ : dict
        ``tuple of n cells -> (n_classes,) counts``.
    """

    def __init__(self, n: int = 2, n_classes: int = 10) -> None:
        if int(n) < 1:
            raise ValueError(f"n must be a positive sequence length, got {n!r}")
        self.n = int(n)
        self.n_classes = int(n_classes)

    def fit(self, firing: list[list[np.ndarray]], y) -> NgramReadout:
        """Count every ``n``-cell sequence over ``n`` consecutive active steps, per class.

        ``firing`` is :func:`firing_steps`'s output for the images ``y`` labels.
        """
        self.scores_ = {}
        return self.partial_fit(firing, y)

    def partial_fit(self, firing: list[list[np.ndarray]], y) -> NgramReadout:
        """Add the counts of more images to the scores (BindsNET's ``update_ngram_scores``:
        the authors' script adds every block of 250 training images as it is learnt)."""
        y = np.asarray(y, dtype=np.int64)
        if len(firing) != len(y):
            raise ValueError(f"{len(firing)} images of spikes but {len(y)} labels")
        scores: dict = getattr(self, "scores_", {})
        for steps, label in zip(firing, y, strict=True):
            for window in zip(*(steps[k:] for k in range(self.n)), strict=False):
                for sequence in product(*(w.tolist() for w in window)):
                    hit = scores.get(sequence)
                    if hit is None:
                        hit = scores[sequence] = np.zeros(self.n_classes)
                    hit[label] += 1
        self.scores_ = scores
        return self

    def class_scores(self, firing: list[list[np.ndarray]]) -> np.ndarray:
        """``(n_images, n_classes)``: summed counts of each image's consecutive sequences.

        The firing order is the cells of all active steps, one after the other; as in
        BindsNET the last sequence of the order is not counted (``range(len - n)``).
        """
        out = np.zeros((len(firing), self.n_classes))
        for e, steps in enumerate(firing):
            order = np.concatenate(steps).tolist() if steps else []
            for j in range(len(order) - self.n):
                hit = self.scores_.get(tuple(order[j:j + self.n]))
                if hit is not None:
                    out[e] += hit
        return out

    def predict(self, firing: list[list[np.ndarray]]) -> np.ndarray:
        """The class with the largest summed count (class 0 for an image without sequences)."""
        return np.argmax(self.class_scores(firing), axis=1)

    @property
    def n_parameters(self) -> int:
        """Stored counts: sequences seen times classes."""
        return len(self.scores_) * self.n_classes


def make_readout(name: str, seed: int = 0):
    """A fresh count readout by name (``vote``, ``logistic``, ``online``); the n-gram readout
    reads spike order, not counts: :class:`NgramReadout`."""
    if name == "vote":
        return VoteReadout(n_classes=10)
    if name == "logistic":
        return LogisticReadout(n_classes=10, random_state=seed)
    if name == "online":
        return OnlineReadout(n_classes=10)
    if name == "ngram":
        return NgramReadout(n=2, n_classes=10)
    raise ValueError(f"unknown readout {name!r}; choose from {', '.join(READOUTS)}")
