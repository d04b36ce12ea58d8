"""Readouts that turn spike counts into class predictions, scikit-learn style.

Three readouts share ``fit(counts, labels)``, ``predict(counts)`` and ``score(counts, labels)``;
``counts`` is an ``(n_examples, n_neurons)`` array of spike counts per presented example.

- :class:`VoteReadout`: the label assignment and vote of Diehl & Cook (2015).
- :class:`LogisticReadout`: multinomial logistic regression on the counts (scikit-learn).
- :class:`OnlineReadout`: a softmax layer trained by the delta rule, one example at a time,
  either offline on recorded counts or *inside* a Brian2 run (:meth:`OnlineReadout.attach`).

>>> ro = VoteReadout(n_classes=10).fit(train_counts, train_labels)
>>> ro.score(test_counts, test_labels)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["VoteReadout", "LogisticReadout", "OnlineReadout"]


def _check_counts(counts, n_features: int | None = None) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2:
        raise ValueError(
            f"counts must be a 2-D array (n_examples, n_neurons), got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite (no NaN or inf)")
    if n_features is not None and counts.shape[1] != n_features:
        raise ValueError(
            f"counts has {counts.shape[1]} neurons but the readout was fitted on {n_features}"
        )
    return counts


def _check_labels(labels, n_examples: int, n_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_examples,):
        raise ValueError(f"labels must have shape ({n_examples},), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must lie in 0..{n_classes - 1} (n_classes={n_classes}), "
            f"got {labels.min()}..{labels.max()}"
        )
    return labels.astype(np.int64)


class _Readout:
    """Shared ``score`` and fitted-state guard."""

    n_classes: int

    def _require_fit(self, attr: str) -> None:
        if getattr(self, attr, None) is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(counts, labels)")

    def predict(self, counts) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, counts, labels) -> float:
        """Fraction of examples whose predicted class equals the label.

        Parameters
        ----------
        counts : array_like, shape (n_examples, n_neurons)
            Spike counts.
        labels : array_like, shape (n_examples,)
            True classes.
        """
        prediction = self.predict(counts)
        labels = _check_labels(labels, len(prediction), self.n_classes)
        return float(np.mean(prediction == labels)) if len(labels) else float("nan")


class VoteReadout(_Readout):
    """Diehl & Cook (2015) label assignment and vote.

    ``fit`` labels each neuron with the class for which its mean count is highest (neurons that
    never respond to any class stay unassigned, ``-1``, as in the original code). ``predict``
    picks the class whose assigned neurons have the highest mean count; a class without any
    assigned neuron is never predicted (unless no class has a neuron, then class 0). Ties go to
    the lowest class index.

    Parameters
    ----------
    n_classes : int
        Number of classes (labels ``0 .. n_classes - 1``).

    Attributes
    ----------
    assignments_ : numpy.ndarray
        Class of each neuron (``-1``: unassigned), set by ``fit``.
    class_means_ : numpy.ndarray
        ``(n_classes, n_neurons)`` mean count per class (NaN for a class absent from ``fit``).
    """

    def __init__(self, n_classes: int = 10) -> None:
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes!r}")
        self.n_classes = int(n_classes)
        self.assignments_: np.ndarray | None = None
        self.class_means_: np.ndarray | None = None

    def fit(self, counts, labels) -> VoteReadout:
        """Assign every neuron to the class with its highest mean count.

        Parameters
        ----------
        counts : array_like, shape (n_examples, n_neurons)
            Spike counts on the assignment examples (training data, never the test set).
        labels : array_like, shape (n_examples,)
            Their classes.
        """
        counts = _check_counts(counts)
        labels = _check_labels(labels, len(counts), self.n_classes)
        means = np.full((self.n_classes, counts.shape[1]), np.nan)
        for c in range(self.n_classes):
            if np.any(labels == c):
                means[c] = counts[labels == c].mean(axis=0)
        filled = np.where(np.isnan(means), -np.inf, means)
        assignments = np.argmax(filled, axis=0)
        assignments[~(filled.max(axis=0) > 0)] = -1  # never responded: no vote
        self.class_means_ = means
        self.assignments_ = assignments
        return self

    def class_scores(self, counts) -> np.ndarray:
        """Mean count of each class's assigned neurons, ``(n_examples, n_classes)``.

        A class without assigned neurons scores ``-inf``.
        """
        self._require_fit("assignments_")
        counts = _check_counts(counts, len(self.assignments_))
        scores = np.full((len(counts), self.n_classes), -np.inf)
        for c in range(self.n_classes):
            members = self.assignments_ == c
            if members.any():
                scores[:, c] = counts[:, members].mean(axis=1)
        return scores

    def predict(self, counts) -> np.ndarray:
        """Class with the highest mean count of its assigned neurons, per example."""
        return np.argmax(self.class_scores(counts), axis=1)


class LogisticReadout(_Readout):
    """Multinomial logistic regression on spike counts (scikit-learn ``LogisticRegression``).

    Counts are standardised (``StandardScaler``) before the regression.

    Parameters
    ----------
    n_classes : int
        Number of classes.
    C : float
        Inverse L2 regularisation strength.
    max_iter : int
        Iterations of the L-BFGS solver.
    seed : int, optional
        Random state passed to scikit-learn.
    """

    def __init__(self, n_classes: int = 10, C: float = 1.0, max_iter: int = 1000,
                 seed: int | None = 0) -> None:
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes!r}")
        if not C > 0:
            raise ValueError(f"C must be positive, got {C!r}")
        self.n_classes = int(n_classes)
        self.C = float(C)
        self.max_iter = int(max_iter)
        self.seed = seed
        self.model_ = None
        self._n_features: int | None = None

    def fit(self, counts, labels) -> LogisticReadout:
        """Fit the regression on ``counts`` and ``labels``."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        counts = _check_counts(counts)
        labels = _check_labels(labels, len(counts), self.n_classes)
        if len(np.unique(labels)) < 2:
            raise ValueError("LogisticReadout needs examples of at least two classes")
        self.model_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed),
        )
        self.model_.fit(counts, labels)
        self._n_features = counts.shape[1]
        return self

    def predict_proba(self, counts) -> np.ndarray:
        """Class probabilities ``(n_examples, n_classes)`` (zero for classes unseen in ``fit``)."""
        self._require_fit("model_")
        counts = _check_counts(counts, self._n_features)
        proba = np.zeros((len(counts), self.n_classes))
        proba[:, self.model_.classes_] = self.model_.predict_proba(counts)
        return proba

    def predict(self, counts) -> np.ndarray:
        """Most probable class per example."""
        self._require_fit("model_")
        counts = _check_counts(counts, self._n_features)
        return np.asarray(self.model_.predict(counts), dtype=np.int64)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class OnlineReadout(_Readout):
    """Softmax readout trained by the delta rule, one example at a time.

    For each example the counts ``c`` are scaled to ``x = c / max(max(c), 1)`` (so the rule does
    not depend on the layer's firing rate), the class probabilities are
    ``p = softmax(x W + b)`` and, with the one-hot label ``y``, the weights move by the gradient
    of the cross-entropy: ``W += lr_k * outer(x, y - p)``, ``b += lr_k * (y - p)``. The learning
    rate after ``k`` examples is ``lr / (1 + k / lr_decay)`` (constant if ``lr_decay`` is None),
    or ``schedule(k)`` if a callable is given.

    Two ways to train, with the same update: :meth:`fit` over recorded counts (e.g. from a
    ``cpp_standalone`` run), or :meth:`attach` to a spiking layer in a runtime-mode Brian2
    network, where ``n_classes`` output units are driven by the layer's spikes through
    ``Synapses`` and a ``network_operation`` applies the update at the end of every example.

    Parameters
    ----------
    n_classes : int
        Number of output units / classes.
    lr : float
        Initial learning rate.
    lr_decay : float or None
        Examples after which the learning rate has halved (``lr / (1 + k / lr_decay)``).
    schedule : callable, optional
        ``schedule(k) -> lr`` overriding ``lr`` and ``lr_decay``.
    seed : int, optional
        Seed of the example order in :meth:`fit` (weights start at zero).

    Attributes
    ----------
    weights_ : numpy.ndarray
        ``(n_neurons, n_classes)`` weights.
    bias_ : numpy.ndarray
        ``(n_classes,)`` biases.
    n_seen_ : int
        Examples used for learning so far (drives the schedule).
    """

    def __init__(self, n_classes: int = 10, lr: float = 0.5, lr_decay: float | None = 1000.0,
                 schedule: Callable[[int], float] | None = None, seed: int | None = 0) -> None:
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        if lr_decay is not None and not lr_decay > 0:
            raise ValueError(f"lr_decay must be positive or None, got {lr_decay!r}")
        self.n_classes = int(n_classes)
        self.lr = float(lr)
        self.lr_decay = lr_decay
        self.schedule = schedule
        self.seed = seed
        self.weights_: np.ndarray | None = None
        self.bias_: np.ndarray | None = None
        self.n_seen_ = 0
        self._records: list[dict] = []
        self._online: dict | None = None

    # -- the rule ---------------------------------------------------------------------------
    def learning_rate(self, k: int | None = None) -> float:
        """Learning rate after ``k`` learned examples (default: ``n_seen_``)."""
        k = self.n_seen_ if k is None else int(k)
        if self.schedule is not None:
            return float(self.schedule(k))
        if self.lr_decay is None:
            return self.lr
        return self.lr / (1.0 + k / self.lr_decay)

    @staticmethod
    def scale(counts: np.ndarray) -> np.ndarray:
        """Per-example scaling of counts: ``c / max(max(c), 1)``."""
        counts = np.asarray(counts, dtype=float)
        top = np.maximum(counts.max(axis=-1, keepdims=True), 1.0)
        return counts / top

    def _init(self, n_features: int) -> None:
        if self.weights_ is None:
            self.weights_ = np.zeros((n_features, self.n_classes))
            self.bias_ = np.zeros(self.n_classes)
        elif self.weights_.shape[0] != n_features:
            raise ValueError(
                f"the readout has {self.weights_.shape[0]} inputs, got a layer of {n_features}"
            )

    def _update(self, x: np.ndarray, logits: np.ndarray, label: int) -> np.ndarray:
        """One delta-rule step from scaled counts ``x`` and logits; returns the weight change."""
        p = _softmax(logits)
        err = -p
        err[label] += 1.0
        lr = self.learning_rate()
        dw = lr * np.outer(x, err)
        self.bias_ += lr * err
        self.n_seen_ += 1
        return dw

    def _record(self, label, prediction, learned: bool) -> None:
        self._records.append(
            {"example": len(self._records), "label": -1 if label is None else int(label),
             "prediction": int(prediction), "learned": learned,
             "lr": self.learning_rate() if learned else 0.0}
        )

    # -- offline ----------------------------------------------------------------------------
    def fit(self, counts, labels, epochs: int = 1) -> OnlineReadout:
        """Run the delta rule over recorded counts, one example at a time.

        Parameters
        ----------
        counts : array_like, shape (n_examples, n_neurons)
            Spike counts per example.
        labels : array_like, shape (n_examples,)
            Classes.
        epochs : int
            Passes over the examples, each in a fresh order drawn from ``seed``.
        """
        counts = _check_counts(counts)
        labels = _check_labels(labels, len(counts), self.n_classes)
        self._init(counts.shape[1])
        x_all = self.scale(counts)
        rng = np.random.default_rng(self.seed)
        for _ in range(int(epochs)):
            for k in rng.permutation(len(counts)):
                x = x_all[k]
                logits = x @ self.weights_ + self.bias_
                self.weights_ += self._update(x, logits, labels[k])
        return self

    def decision_function(self, counts) -> np.ndarray:
        """Logits ``x W + b`` per example, ``(n_examples, n_classes)``."""
        self._require_fit("weights_")
        counts = _check_counts(counts, self.weights_.shape[0])
        return self.scale(counts) @ self.weights_ + self.bias_

    def predict(self, counts) -> np.ndarray:
        """Class with the highest logit per example."""
        return np.argmax(self.decision_function(counts), axis=1)

    # -- inside a Brian2 run ----------------------------------------------------------------
    def attach(self, layer, example_duration, labels=None, *, learn: bool = True,
               name: str = "readout") -> list:
        """Build the readout into a Brian2 network on a spiking ``layer`` (runtime mode).

        ``n_classes`` output units accumulate ``a += w`` for every spike of ``layer``
        (all-to-all ``Synapses``); a ``network_operation`` at the end of the last time step of
        every example reads ``a`` and the layer's counts for that example, predicts, applies
        the delta rule to the synaptic weights (if learning) and clears ``a``. Examples are
        consecutive windows of ``example_duration`` starting at the time of attachment.

        Parameters
        ----------
        layer : brian2.NeuronGroup or brian2.PoissonGroup or SpikeSource
            The spiking layer to read (Diehl & Cook excitatory layer, a converted net's hidden
            layer, the Poisson input...).
        example_duration : Quantity
            Time each example is presented (including any rest period).
        labels : array_like, optional
            Labels of the coming examples, in order (see :meth:`present`).
        learn : bool
            Whether the coming examples update the weights.
        name : str
            Prefix of the Brian2 object names.

        Returns
        -------
        list
            Brian2 objects to add to the ``Network`` (``net.add(readout.attach(...))``).
        """
        from brian2 import NeuronGroup, SpikeMonitor, Synapses, ms, network_operation

        from brainlearn.units import check_quantity

        check_quantity("example_duration", example_duration, ms)
        dt = layer.clock.dt
        steps = int(round(float(example_duration / dt)))
        if steps < 1 or abs(steps * float(dt) - float(example_duration)) > 1e-9 * steps:
            raise ValueError(
                f"example_duration must be a positive multiple of the layer's dt ({dt}), "
                f"got {example_duration}"
            )
        n = len(layer)
        self._init(n)
        out = NeuronGroup(self.n_classes, "a : 1\nb : 1", dt=dt, name=f"{name}_units")
        out.b = self.bias_
        syn = Synapses(layer, out, "w : 1", on_pre="a_post += w", dt=dt,
                       name=f"{name}_synapses")
        syn.connect()
        syn.w[:] = self.weights_[syn.i[:], syn.j[:]]
        mon = SpikeMonitor(layer, record=False, name=f"{name}_counts")
        state = {"start": None, "steps": steps, "last": None, "syn": syn, "out": out,
                 "mon": mon, "labels": [], "learn": learn, "pos": 0}
        self._online = state
        if labels is not None:
            self.present(labels, learn=learn)

        @network_operation(dt=dt, when="end", name=f"{name}_update")
        def update(t):
            step = int(round(float(t / dt)))
            if state["start"] is None:
                state["start"] = step
                state["last"] = np.asarray(mon.count[:], dtype=float).copy()
            if (step - state["start"] + 1) % state["steps"]:
                return
            total = np.asarray(mon.count[:], dtype=float)
            counts = total - state["last"]
            state["last"] = total.copy()
            top = max(counts.max(), 1.0)
            logits = np.asarray(out.a[:]) / top + np.asarray(out.b[:])
            prediction = int(np.argmax(logits))
            label = state["labels"][state["pos"]] if state["pos"] < len(state["labels"]) else None
            state["pos"] += 1
            learned = bool(state["learn"] and label is not None)
            self._record(label, prediction, learned)
            if learned:
                dw = self._update(counts / top, logits, int(label))
                syn.w[:] = np.asarray(syn.w[:]) + dw[syn.i[:], syn.j[:]]
                out.b[:] = self.bias_
                self.weights_ += dw
            out.a[:] = 0.0

        return [out, syn, mon, update]

    def present(self, labels, *, learn: bool = True) -> None:
        """Set the labels of the next examples of an attached readout (and whether to learn).

        Call between ``run``\\ s, e.g. ``present(train_labels)`` then ``present(test_labels,
        learn=False)``; examples beyond the given labels are predicted without learning.
        """
        if self._online is None:
            raise RuntimeError("present() needs a readout attached to a layer; call attach()")
        labels = _check_labels(labels, len(np.asarray(labels)), self.n_classes)
        self._online["labels"] = list(labels)
        self._online["pos"] = 0
        self._online["learn"] = bool(learn)

    def history(self) -> pd.DataFrame:
        """One row per example seen online: ``example, label, prediction, learned, lr``."""
        columns = ["example", "label", "prediction", "learned", "lr"]
        return pd.DataFrame(self._records, columns=columns)
