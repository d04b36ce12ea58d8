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
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

__all__ = ["VoteReadout", "LogisticReadout", "OnlineReadout"]


def _check_n_classes(n_classes) -> None:
    if n_classes is not None and (int(n_classes) != n_classes or n_classes < 2):
        raise ValueError(f"n_classes must be an integer of at least 2 (or None), got {n_classes!r}")


class _Readout(ClassifierMixin, BaseEstimator):
    """Shared parts of the readouts: label encoding and input checks (scikit-learn API).

    ``fit`` sets ``classes_`` (``0 .. n_classes - 1`` when ``n_classes`` is given, else the
    sorted labels seen) and ``n_features_in_``; ``score`` is the accuracy
    (``ClassifierMixin``).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # spike counts
        return tags

    def _fit_data(self, counts, labels):
        """Validate ``counts`` and ``labels`` and set ``classes_``; return counts and codes."""
        _check_n_classes(self.n_classes)
        counts, labels = validate_data(self, counts, labels, dtype=np.float64)
        check_non_negative(counts, f"{type(self).__name__}.fit (spike counts)")
        check_classification_targets(labels)
        if self.n_classes is None:
            self.classes_ = np.unique(labels)
        else:
            self.classes_ = np.arange(int(self.n_classes))
            if not np.all(np.isin(labels, self.classes_)):
                bad = sorted(set(np.asarray(labels).tolist()) - set(self.classes_.tolist()))[:5]
                raise ValueError(f"labels must lie in 0..{self.n_classes - 1} "
                                 f"(n_classes={self.n_classes}), got {bad}")
        return counts, np.searchsorted(self.classes_, labels)

    def _counts(self, counts) -> np.ndarray:
        check_is_fitted(self)
        counts = validate_data(self, counts, dtype=np.float64, reset=False)
        check_non_negative(counts, f"{type(self).__name__} (spike counts)")
        return counts


class VoteReadout(_Readout):
    """Diehl & Cook (2015) label assignment and vote.

    ``fit`` labels each neuron with the class for which its mean count is highest (neurons that
    never respond to any class stay unassigned, ``-1``, as in the original code). ``predict``
    picks the class whose assigned neurons have the highest mean count; a class without any
    assigned neuron is never predicted (unless no class has a neuron, then the first class).
    Ties go to the first class.

    Parameters
    ----------
    n_classes : int, optional
        Number of classes (labels ``0 .. n_classes - 1``); default: the labels seen in ``fit``.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels.
    n_features_in_ : int
        Neurons seen in ``fit``.
    assignments_ : numpy.ndarray
        Index into ``classes_`` of each neuron's class (``-1``: unassigned).
    class_means_ : numpy.ndarray
        ``(n_classes, n_neurons)`` mean count per class (NaN for a class absent from ``fit``).
    """

    def __init__(self, n_classes: int | None = None) -> None:
        self.n_classes = n_classes

    def fit(self, X, y) -> VoteReadout:
        """Assign every neuron to the class with its highest mean count.

        Parameters
        ----------
        X : array_like, shape (n_examples, n_neurons)
            Spike counts on the assignment examples (training data, never the test set).
        y : array_like, shape (n_examples,)
            Their classes.
        """
        counts, codes = self._fit_data(X, y)
        means = np.full((len(self.classes_), counts.shape[1]), np.nan)
        for c in range(len(self.classes_)):
            if np.any(codes == c):
                means[c] = counts[codes == c].mean(axis=0)
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
        counts = self._counts(counts)
        scores = np.full((len(counts), len(self.classes_)), -np.inf)
        for c in range(len(self.classes_)):
            members = self.assignments_ == c
            if members.any():
                scores[:, c] = counts[:, members].mean(axis=1)
        return scores

    def predict(self, counts) -> np.ndarray:
        """Class with the highest mean count of its assigned neurons, per example."""
        best = np.argmax(self.class_scores(counts), axis=1)
        return self.classes_[best]


class LogisticReadout(_Readout):
    """Multinomial logistic regression on spike counts (scikit-learn ``LogisticRegression``).

    Counts are standardised (``StandardScaler``) before the regression.

    Parameters
    ----------
    n_classes : int, optional
        Number of classes (default: the labels seen in ``fit``).
    C : float
        Inverse L2 regularisation strength.
    max_iter : int
        Iterations of the L-BFGS solver.
    random_state : int, optional
        Random state passed to scikit-learn.

    Attributes
    ----------
    classes_, n_features_in_
        As every readout.
    model_ : sklearn.pipeline.Pipeline
        The fitted scaler and regression.
    """

    def __init__(self, n_classes: int | None = None, C: float = 1.0, max_iter: int = 1000,
                 random_state: int | None = 0) -> None:
        self.n_classes = n_classes
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y) -> LogisticReadout:
        """Fit the regression on spike counts ``X`` ``(n_examples, n_neurons)`` and labels ``y``."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C!r}")
        counts, codes = self._fit_data(X, y)
        if len(np.unique(codes)) < 2:
            raise ValueError("LogisticReadout needs examples of at least two classes, got one class")
        self.model_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state),
        )
        self.model_.fit(counts, codes)
        self.n_iter_ = self.model_[-1].n_iter_
        return self

    def predict_proba(self, counts) -> np.ndarray:
        """Class probabilities ``(n_examples, n_classes)`` (zero for classes unseen in ``fit``)."""
        counts = self._counts(counts)
        proba = np.zeros((len(counts), len(self.classes_)))
        proba[:, self.model_.classes_] = self.model_.predict_proba(counts)
        return proba

    def predict(self, counts) -> np.ndarray:
        """Most probable class per example."""
        best = np.argmax(self.predict_proba(counts), axis=1)
        return self.classes_[best]


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

    ``fit`` starts afresh (weights at zero); :meth:`partial_fit` continues learning.

    Parameters
    ----------
    n_classes : int, optional
        Number of output units / classes (labels ``0 .. n_classes - 1``); default: the labels
        seen in ``fit``. Needed by :meth:`attach` on an unfitted readout.
    lr : float
        Initial learning rate.
    lr_decay : float or None
        Examples after which the learning rate has halved (``lr / (1 + k / lr_decay)``).
    schedule : callable, optional
        ``schedule(k) -> lr`` overriding ``lr`` and ``lr_decay``.
    epochs : int
        Passes over the examples in :meth:`fit`, each in a fresh order.
    random_state : int, optional
        Seed of the example order in :meth:`fit` (weights start at zero).

    Attributes
    ----------
    classes_, n_features_in_
        As every readout.
    weights_ : numpy.ndarray
        ``(n_neurons, n_classes)`` weights.
    bias_ : numpy.ndarray
        ``(n_classes,)`` biases.
    n_seen_ : int
        Examples used for learning so far (drives the schedule).
    """

    def __init__(self, n_classes: int | None = None, lr: float = 0.5,
                 lr_decay: float | None = 1000.0, schedule: Callable[[int], float] | None = None,
                 epochs: int = 1, random_state: int | None = 0) -> None:
        self.n_classes = n_classes
        self.lr = lr
        self.lr_decay = lr_decay
        self.schedule = schedule
        self.epochs = epochs
        self.random_state = random_state

    def _check_params(self) -> None:
        _check_n_classes(self.n_classes)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.lr_decay is not None and not self.lr_decay > 0:
            raise ValueError(f"lr_decay must be positive or None, got {self.lr_decay!r}")
        if int(self.epochs) != self.epochs or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")

    # -- the rule ---------------------------------------------------------------------------
    def learning_rate(self, k: int | None = None) -> float:
        """Learning rate after ``k`` learned examples (default: ``n_seen_``)."""
        k = getattr(self, "n_seen_", 0) if k is None else int(k)
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

    def _reset(self, n_features: int) -> None:
        """Fresh learning state: zero weights and bias, no examples seen."""
        self.n_features_in_ = int(n_features)
        self.weights_ = np.zeros((n_features, len(self.classes_)))
        self.bias_ = np.zeros(len(self.classes_))
        self.n_seen_ = 0
        self._records = []

    def _init(self, n_features: int) -> None:
        """Learning state for a layer of ``n_features`` (kept when it is already there)."""
        if not hasattr(self, "weights_"):
            self._check_params()
            if not hasattr(self, "classes_"):
                if self.n_classes is None:
                    raise ValueError("an unfitted OnlineReadout needs n_classes to attach")
                self.classes_ = np.arange(int(self.n_classes))
            self._reset(n_features)
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
        self._records = getattr(self, "_records", [])
        self._records.append(
            {"example": len(self._records), "label": -1 if label is None else int(label),
             "prediction": int(prediction), "learned": learned,
             "lr": self.learning_rate() if learned else 0.0}
        )

    # -- offline ----------------------------------------------------------------------------
    def _learn(self, counts: np.ndarray, codes: np.ndarray, epochs: int) -> None:
        x_all = self.scale(counts)
        rng = np.random.default_rng(self.random_state)
        for _ in range(int(epochs)):
            for k in rng.permutation(len(counts)):
                x = x_all[k]
                logits = x @ self.weights_ + self.bias_
                self.weights_ += self._update(x, logits, codes[k])

    def fit(self, X, y) -> OnlineReadout:
        """Run the delta rule over recorded counts, one example at a time, from zero weights.

        Parameters
        ----------
        X : array_like, shape (n_examples, n_neurons)
            Spike counts per example.
        y : array_like, shape (n_examples,)
            Classes.
        """
        self._check_params()
        counts, codes = self._fit_data(X, y)
        self._reset(counts.shape[1])
        self._learn(counts, codes, self.epochs)
        return self

    def partial_fit(self, X, y, classes=None) -> OnlineReadout:
        """One pass of the delta rule over ``X``, continuing from the current weights.

        Parameters
        ----------
        X, y : array_like
            Spike counts ``(n_examples, n_neurons)`` of the new examples and their classes.
        classes : array_like, optional
            All classes, needed on the first call unless ``n_classes`` is set.
        """
        if not hasattr(self, "weights_"):
            self._check_params()
            if classes is not None:
                self.classes_ = np.unique(classes)
            elif self.n_classes is not None:
                self.classes_ = np.arange(int(self.n_classes))
            else:
                raise ValueError("the first partial_fit needs classes= (all class labels)")
            counts = validate_data(self, X, dtype=np.float64)
            check_non_negative(counts, "OnlineReadout.partial_fit (spike counts)")
            self._reset(counts.shape[1])
        counts = self._counts(X)
        labels = np.asarray(y)
        if labels.shape != (len(counts),):
            raise ValueError(f"labels must have shape ({len(counts)},), got {labels.shape}")
        if not np.all(np.isin(labels, self.classes_)):
            raise ValueError(f"labels must be among the classes {self.classes_.tolist()}")
        self._learn(counts, np.searchsorted(self.classes_, labels), 1)
        return self

    def _logits(self, counts) -> np.ndarray:
        return self.scale(self._counts(counts)) @ self.weights_ + self.bias_

    def decision_function(self, counts) -> np.ndarray:
        """Logits ``x W + b`` per example, ``(n_examples, n_classes)``; with two classes, as
        scikit-learn's classifiers, the difference ``logit_1 - logit_0`` ``(n_examples,)``."""
        logits = self._logits(counts)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict(self, counts) -> np.ndarray:
        """Class with the highest logit per example."""
        best = np.argmax(self._logits(counts), axis=1)
        return self.classes_[best]

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
        out = NeuronGroup(len(self.classes_), "a : 1\nb : 1", dt=dt, name=f"{name}_units")
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
            prediction = self.classes_[int(np.argmax(logits))]
            label = state["labels"][state["pos"]] if state["pos"] < len(state["labels"]) else None
            state["pos"] += 1
            learned = bool(state["learn"] and label is not None)
            self._record(label, prediction, learned)
            if learned:
                dw = self._update(counts / top, logits,
                                  int(np.searchsorted(self.classes_, label)))
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
        if getattr(self, "_online", None) is None:
            raise RuntimeError("present() needs a readout attached to a layer; call attach()")
        labels = np.asarray(labels)
        if not np.all(np.isin(labels, self.classes_)):
            raise ValueError(f"labels must be among the classes {self.classes_.tolist()}")
        self._online["labels"] = list(labels)
        self._online["pos"] = 0
        self._online["learn"] = bool(learn)

    def history(self) -> pd.DataFrame:
        """One row per example seen online: ``example, label, prediction, learned, lr``."""
        columns = ["example", "label", "prediction", "learned", "lr"]
        return pd.DataFrame(getattr(self, "_records", []), columns=columns)
