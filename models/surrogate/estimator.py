"""The surrogate-gradient network as a scikit-learn estimator: :class:`SurrogateClassifier`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from brainlearn import rundir

__all__ = ["SurrogateClassifier"]

#: hyper-parameters that are settings of :func:`~brainlearn.models.surrogate.presets
#: .resolve_settings` (``None``: the preset's)
_SETTINGS = ("hidden", "neuron", "beta", "tau", "decay_input", "reset", "detach_reset",
             "encoder", "bias", "threshold", "steps", "surrogate", "surrogate_scale", "loss",
             "lr", "batch_size", "epochs")


def _features(X):
    """8-bit images (``uint8``, 0-255) as pixels in ``[0, 1]``; ``(n, h, w)`` flattened."""
    if getattr(X, "dtype", None) == np.uint8:
        X = np.asarray(X, np.float32) / 255.0
    if getattr(X, "ndim", 2) == 3:
        X = np.asarray(X).reshape(len(X), -1)
    return X


class SurrogateClassifier(ClassifierMixin, BaseEstimator):
    """A feed-forward LIF network trained by BPTT with surrogate gradients (PyTorch).

    Every setting left ``None`` is the ``preset``'s
    (:data:`~brainlearn.models.surrogate.presets.PRESETS`); :func:`~brainlearn.models
    .surrogate.training.train` documents them. ``fit`` trains on features ``X`` (pixels
    scaled to ``[0, 1]`` as in the tutorials; ``uint8`` images, ``(n, 784)`` or
    ``(n, 28, 28)``, are divided by 255; with the static encoder any real input is a current),
    ``predict`` runs the trainer's forward pass and decodes the most
    output spikes, ties to the larger summed membrane.

    Parameters
    ----------
    preset : str
        ``"snntorch-tutorial5"`` (default), ``"spikingjelly-single"`` or
        ``"spikingjelly-two-layer"``.
    hidden, neuron, beta, tau, decay_input, reset, detach_reset, encoder, bias : optional
        Override the preset's network setting (``None`` keeps it).
    threshold, steps, surrogate, surrogate_scale, loss, lr, batch_size, epochs : optional
        Override the preset's setting (``None`` keeps it).
    seed : int
        Seed of the initialisation, the batch order and the input spikes.
    threads : int, optional
        PyTorch CPU threads.
    device : str
        PyTorch device of the training (``"cpu"``, ``"cuda"``).

    Attributes
    ----------
    net_ : SpikingMLP
        The trained network.
    classes_ : ndarray
        The labels, in the order of the output neurons.
    n_features_in_ : int
        Inputs per example.

    Examples
    --------
    >>> clf = SurrogateClassifier(hidden=(100,), epochs=1)                # doctest: +SKIP
    >>> clf.fit(images.reshape(len(images), -1) / 255, labels)            # doctest: +SKIP
    >>> clf.save("runs/sg100")                                            # doctest: +SKIP
    >>> SurrogateClassifier.load("runs/sg100").score(x_test / 255, y_test)  # doctest: +SKIP
    """

    def __init__(self, preset: str = "snntorch-tutorial5", hidden=None, neuron=None, beta=None,
                 tau=None, decay_input=None, reset=None, detach_reset=None, encoder=None,
                 bias=None, threshold=None, steps=None, surrogate=None, surrogate_scale=None,
                 loss=None, lr=None, batch_size=None, epochs=None, seed: int = 0,
                 threads: int | None = 2, device: str = "cpu"):
        self.preset = preset
        self.hidden = hidden
        self.neuron = neuron
        self.beta = beta
        self.tau = tau
        self.decay_input = decay_input
        self.reset = reset
        self.detach_reset = detach_reset
        self.encoder = encoder
        self.bias = bias
        self.threshold = threshold
        self.steps = steps
        self.surrogate = surrogate
        self.surrogate_scale = surrogate_scale
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed
        self.threads = threads
        self.device = device

    def _settings(self) -> dict:
        from brainlearn.models.surrogate.presets import resolve_settings

        hidden = self.hidden
        if hidden is not None:
            hidden = tuple(int(h) for h in np.atleast_1d(hidden))
        return resolve_settings(self.preset, **{**{k: getattr(self, k) for k in _SETTINGS},
                                                "hidden": hidden})

    def fit(self, X, y) -> SurrogateClassifier:
        """Train a fresh network on ``X, y``."""
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        from brainlearn.models.surrogate.gradients import Surrogate
        from brainlearn.models.surrogate.runs import train_kwargs
        from brainlearn.models.surrogate.training import train

        settings = self._settings()
        X, y = validate_data(self, _features(X), y, dtype=np.float32)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"SurrogateClassifier needs at least two classes, got 1 class "
                             f"({classes[0]!r})")
        self.net_ = train(X, codes, surrogate=Surrogate(settings["surrogate"],
                                                        settings["surrogate_scale"]),
                          seed=self.seed, threads=self.threads, device=self.device,
                          check_range=False, **train_kwargs(settings))
        self.classes_ = classes
        return self

    def _activity(self, X):
        from sklearn.utils.validation import check_is_fitted, validate_data

        from brainlearn.models.surrogate.torch_net import forward

        check_is_fitted(self)
        X = validate_data(self, _features(X), dtype=np.float32, reset=False)
        return forward(self.net_, X, threads=self.threads, seed=self.seed, check_range=False)

    def predict(self, X) -> np.ndarray:
        """The class of every example: most output spikes, ties to the larger membrane."""
        activity = self._activity(X)
        return self.classes_[activity.predict()]

    def spike_counts(self, X) -> np.ndarray:
        """Output spike counts ``(n_examples, n_classes)``."""
        return self._activity(X).counts

    def save(self, path: str | Path) -> Path:
        """Write the fitted network as a run directory (the files ``brainlearn surrogate
        train`` writes), readable by :meth:`load` and ``brainlearn surrogate evaluate``."""
        from sklearn.utils.validation import check_is_fitted

        from brainlearn.models.surrogate.runs import write_run

        check_is_fitted(self)
        settings = self._settings()
        history = self.net_.history.copy()
        history["test_accuracy"] = float("nan")
        config = {"seed": self.seed, "threads": self.threads, "torch_device": self.device,
                  "classes": self.classes_.tolist(), "estimator": type(self).__name__}
        with rundir.new_run(path) as run:
            write_run(run, self.net_, settings, config, history=history, wall=0.0,
                      test_examples=0)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> SurrogateClassifier:
        """A fitted classifier from a run directory of ``brainlearn surrogate train`` or
        :meth:`save`."""
        from brainlearn.models.surrogate.runs import read_run

        net = read_run(path)
        config = rundir.read_config(path)
        params = {k: config.get(k) for k in _SETTINGS}
        params["hidden"] = tuple(net.sizes[1:-1])
        if net.neuron_kind == "spikingjelly":
            params["beta"] = None  # the neuron's tau sets it
        else:
            params.update(tau=None, decay_input=None, reset=None, detach_reset=None)
        clf = cls(preset=config.get("preset", "snntorch-tutorial5"), seed=config.get("seed", 0),
                  threads=config.get("threads", 2),
                  **{k: v for k, v in params.items() if v is not None})
        clf.net_ = net
        clf.classes_ = np.asarray(config.get("classes", np.arange(net.sizes[-1])))
        clf.n_features_in_ = net.sizes[0]
        return clf
