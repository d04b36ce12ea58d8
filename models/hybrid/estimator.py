"""The hybrid's output layer as a scikit-learn estimator: :class:`HybridClassifier`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from brainlearn import rundir

__all__ = ["HybridClassifier"]

_PARAMS = ("steps", "beta", "threshold", "bias", "surrogate", "loss", "lr", "batch_size",
           "epochs", "schedule", "validation", "seed")


class HybridClassifier(ClassifierMixin, BaseEstimator):
    """A LIF output layer trained by BPTT on hidden-layer spike trains (the STDP + BP hybrid).

    The input of an example is the spike train of a frozen hidden layer (in brainlearn, the
    excitatory layer of a Diehl & Cook network) binned into ``steps`` steps: ``X`` is
    ``(n, steps, n_hidden)``, or the same flattened to ``(n, steps * n_hidden)``. The layer is
    :func:`~brainlearn.models.hybrid.training.train`'s; ``predict`` runs its forward pass
    (float64, the same computation as the layer in Brian2) and decodes the most output spikes,
    ties to the larger summed membrane.

    Parameters
    ----------
    steps, beta, threshold, bias, surrogate, loss, lr, batch_size, epochs, schedule, validation
        See :func:`~brainlearn.models.hybrid.training.train` (the same defaults).
    seed : int
        Seed of the initialisation, the split and the batch order.
    threads : int, optional
        PyTorch CPU threads.
    window : float
        Seconds of recorded time per example (0.35, the Diehl & Cook input window).

    Attributes
    ----------
    layer_ : HybridLayer
        The trained layer.
    classes_ : ndarray
        Labels in the order of the output neurons.
    n_features_in_ : int
        ``steps * n_hidden``.

    Examples
    --------
    >>> clf = HybridClassifier.load("runs/n100")    # the layer `brainlearn hybrid train` wrote
    ... # doctest: +SKIP
    >>> clf.predict(trains)                         # (n, 350, 100) hidden spikes  # doctest: +SKIP
    """

    def __init__(self, steps: int = 350, beta: float = 0.95, threshold: float = 1.0,
                 bias: bool = False, surrogate: str = "atan", loss: str = "count_ce",
                 lr: float = 1e-2, batch_size: int = 128, epochs: int = 5,
                 schedule: str = "cosine", validation: float = 0.0, seed: int = 0,
                 threads: int | None = 1, window: float = 0.35):
        self.steps = steps
        self.beta = beta
        self.threshold = threshold
        self.bias = bias
        self.surrogate = surrogate
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.validation = validation
        self.seed = seed
        self.threads = threads
        self.window = window

    def _validated(self, X, y=None, reset: bool = True):
        """``X`` as ``(n, steps * n_hidden)`` float32 (and ``y``), checked by scikit-learn."""
        from sklearn.utils.validation import validate_data

        if getattr(X, "ndim", 2) == 3:
            X = np.asarray(X).reshape(len(X), -1)
        if y is None:
            X = validate_data(self, X, dtype=np.float32, reset=reset)
        else:
            X, y = validate_data(self, X, y, dtype=np.float32, reset=reset)
        steps = int(self.steps)
        if steps < 1 or X.shape[1] % steps:
            raise ValueError(f"X has {X.shape[1]} features per example, not a multiple of "
                             f"steps={self.steps!r} (X: spike trains, steps x hidden neurons)")
        return X, y

    def _spikes(self, X, codes=None):
        from brainlearn.models.hybrid.spikes import DenseSpikes

        return DenseSpikes(X.reshape(len(X), int(self.steps), -1), codes, self.window)

    def fit(self, X, y) -> HybridClassifier:
        """Train a fresh output layer on spike trains ``X`` with labels ``y``."""
        from sklearn.utils.multiclass import check_classification_targets

        from brainlearn.models.hybrid.training import train

        X, y = self._validated(X, y)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"HybridClassifier needs at least two classes, got 1 class "
                             f"({classes[0]!r})")
        self.layer_ = train(self._spikes(X, codes), threads=self.threads,
                            **{k: getattr(self, k) for k in _PARAMS})
        self.classes_ = classes
        return self

    def _activity(self, X):
        from sklearn.utils.validation import check_is_fitted

        from brainlearn.models.hybrid.training import forward

        check_is_fitted(self)
        X, _ = self._validated(X, reset=False)
        return forward(self.layer_, self._spikes(X), threads=self.threads)

    def predict(self, X) -> np.ndarray:
        """The class of every example: most output spikes, ties to the larger membrane."""
        activity = self._activity(X)
        return self.classes_[activity.predict()]

    def spike_counts(self, X) -> np.ndarray:
        """Output spike counts ``(n_examples, n_classes)``."""
        return self._activity(X).counts

    def save(self, path: str | Path) -> Path:
        """Write the fitted layer as a hybrid run directory (the files of ``brainlearn hybrid
        train``: ``layer.npz``, ``config.json``, ``metrics.json``, ``train_metrics.csv``)."""
        from sklearn.utils.validation import check_is_fitted

        from brainlearn.models.hybrid.runs import write_layer

        check_is_fitted(self)
        write_layer(path, self.layer_, {"classes": self.classes_.tolist(),
                                        "hidden_neurons": int(self.layer_.weights.shape[0]),
                                        "window_s": self.layer_.window, "threads": self.threads,
                                        "estimator": type(self).__name__}, wall=0.0)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> HybridClassifier:
        """A fitted classifier from ``brainlearn hybrid train``'s folder (the Diehl & Cook run
        directory or its ``hybrid/``) or from :meth:`save`'s directory."""
        from brainlearn.models.hybrid.layer import HybridLayer
        from brainlearn.models.hybrid.runs import LAYER_FILE, hybrid_dir

        path = Path(path)
        out = path if (path / LAYER_FILE).is_file() else hybrid_dir(path)[1]
        layer = HybridLayer.load(out / LAYER_FILE)
        config = rundir.read_config(out)
        params = {k: layer.config[k] for k in _PARAMS if k in layer.config}
        clf = cls(**params, threads=config.get("threads", 1), window=layer.window)
        clf.layer_ = layer
        clf.classes_ = np.asarray(config.get("classes", np.arange(layer.weights.shape[1])))
        clf.n_features_in_ = int(layer.steps * layer.weights.shape[0])
        return clf
