"""The converted networks as scikit-learn estimators: ``fit`` an ANN, ``predict`` in Brian2.

:class:`ConvertedMLPClassifier` trains scikit-learn's ``MLPClassifier`` on any features;
:class:`ConvertedCNNClassifier` trains the small CNN (PyTorch) on square images. Both
normalise the ANN with the training data (:func:`~brainlearn.models.conversion.convert`),
run it as IF neurons in Brian2 for ``steps`` time steps per example in ``predict``
(:func:`~brainlearn.models.conversion.simulate`, many examples side by side in one run), and
read the class from the output layer. ``save(path)`` writes a run directory and
``load(path)`` reads one back, including the directories ``brainlearn convert train`` and
``brainlearn convert cnn`` write.

>>> clf = ConvertedMLPClassifier(hidden=(500,), steps=64, random_state=0)   # doctest: +SKIP
>>> clf.fit(images.reshape(len(images), -1) / 255, labels).score(test_x, test_y)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from brainlearn import rundir
from brainlearn.atomic import save_npz
from brainlearn.models.conversion.ann import (
    CNN,
    MLP,
    fit_classifier,
    mlp_classifier,
    mlp_from_classifier,
    train_cnn,
)
from brainlearn.models.conversion.network import INPUTS, RESETS, SimulationResult, simulate
from brainlearn.models.conversion.normalise import convert, parse_norm, rescale

__all__ = ["ConvertedMLPClassifier", "ConvertedCNNClassifier", "DECODES"]

DECODES = ("count", "potential")
ESTIMATOR_FILE = "estimator.npz"


class _Converted(ClassifierMixin, BaseEstimator):
    """What both converted classifiers share: validation, the Brian2 run, decoding, files."""

    def _check_common(self) -> None:
        parse_norm(self.norm)
        if int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        for name, value, allowed in (("input", self.input, INPUTS),
                                     ("reset", self.reset, RESETS),
                                     ("decode", self.decode, DECODES)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

    def _check_range(self, X) -> None:
        if self.input == "poisson" and X.size and (X.min() < 0 or X.max() > 1):
            raise ValueError("input='poisson' fires with probability x per step, so features "
                             f"must lie in [0, 1]; got values in [{X.min():g}, {X.max():g}] "
                             "(scale them, e.g. X / 255 for 8-bit pixels)")

    def _features(self, X, reset: bool) -> np.ndarray:
        from sklearn.utils.validation import validate_data

        X = validate_data(self, X, dtype=np.float64, reset=reset)
        self._check_range(X)
        return X

    def _simulate(self, X) -> SimulationResult:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = self._features(X, reset=False)
        return simulate(self.converted_, X, steps=(int(self.steps),), inputs=(self.input,),
                        resets=(self.reset,), v_init=getattr(self, "v_init", 0.0),
                        device=self.device, lanes=self.lanes, seed=self.seed_)[0]

    def predict(self, X) -> np.ndarray:
        """The class of every example, decoded from the spiking output after ``steps``."""
        result = self._simulate(X)
        potential = result.out_potential[0]
        if self.decode == "potential":
            return self.classes_[np.argmax(potential, axis=1)]
        # counts are integers: a tie-break term in (-0.5, 0.5) orders only equal counts
        scale = 2.5 * (np.abs(potential).max(axis=1, keepdims=True) + 1e-12)
        return self.classes_[np.argmax(result.out_counts[0] + potential / scale, axis=1)]

    def spike_counts(self, X) -> np.ndarray:
        """Output spike counts ``(n_examples, n_classes)`` after ``steps`` steps."""
        return self._simulate(X).out_counts[0]

    def save(self, path) -> Path:
        """Write the fitted classifier as a run directory ``path``.

        ``mlp.npz`` or ``cnn.npz`` (the ANN), ``estimator.npz`` (``classes``, the
        normalisation ``factors``, ``seed``) and ``config.json`` (the parameters);
        :meth:`load` reads it back with the same predictions.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        with rundir.new_run(path) as run:
            self._ann().save(run / self._ann_file)
            save_npz(run / ESTIMATOR_FILE, classes=np.asarray(self.classes_),
                     factors=self.converted_.factors, seed=np.int64(self.seed_),
                     n_features_in=np.int64(self.n_features_in_))
            params = {k: list(v) if isinstance(v, tuple) else v
                      for k, v in self.get_params().items()}
            if not isinstance(params["random_state"], int | None):
                params["random_state"] = None  # a RandomState object: its seed is seed_
            rundir.write_config(run, {"model": self._model, "estimator": type(self).__name__,
                                      **params}, kind=self._kind)
        return Path(path)

    @classmethod
    def _from_saved(cls, root: Path, ann, params: dict):
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        with np.load(root / ESTIMATOR_FILE, allow_pickle=False) as data:
            clf = cls(**params)
            clf.classes_ = data["classes"]
            clf.seed_ = int(data["seed"])
            clf.n_features_in_ = int(data["n_features_in"])
            clf.converted_ = rescale(ann, data["factors"], parse_norm(clf.norm))
        return clf


class ConvertedMLPClassifier(_Converted):
    """A ReLU MLP trained by scikit-learn, converted to IF neurons, classifying in Brian2.

    ``fit`` trains :func:`~brainlearn.models.conversion.mlp_classifier` on ``X, y`` and
    normalises it with the same ``X`` (the ``norm`` percentile of every layer's activations);
    ``predict`` runs the converted network in Brian2 for ``steps`` time steps per example and
    reads the class from the output layer. The parameters stay as given until ``fit``, which
    validates them; a second ``fit`` starts afresh.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer sizes (at least one layer: the output needs spiking input).
    epochs, batch_size, lr, alpha
        Training of the ANN: passes over the data, minibatch size, Adam learning rate, L2
        penalty (see :func:`~brainlearn.models.conversion.train_mlp`).
    schedule : {"constant", "cosine"}
        Learning-rate schedule, per epoch.
    norm : str or float
        ``"max"`` or a percentile of the positive activations (default ``"99.9"``).
    steps : int
        Simulated time steps (1 ms each) per example.
    input : {"analog", "poisson"}
        Analog: the first layer receives ``W x + b`` as a constant current (any real features).
        Poisson: every feature is a Poisson source firing with probability ``x`` per step
        (features must lie in ``[0, 1]``).
    reset : {"subtract", "zero"}
        IF reset mode.
    decode : {"count", "potential"}
        ``"count"``: the output neuron with the most spikes, ties broken by the membrane of a
        non-spiking copy of the output layer; ``"potential"``: that membrane alone.
    device : {"runtime", "cpp_standalone"}
        Brian2 device of ``predict``.
    lanes : int, optional
        Network copies per simulation (default: from a budget of 4 million synapses).
    random_state : int, RandomState or None
        Seeds the ANN's initialisation and batch order and the Brian2 seed of Poisson input.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels; output neuron ``k`` stands for ``classes_[k]``.
    n_features_in_ : int
        Features seen in ``fit``.
    ann_ : sklearn.neural_network.MLPClassifier or MLP
        The trained ANN (the :class:`~brainlearn.models.conversion.MLP` weights after
        :meth:`load`).
    converted_ : ConvertedNet
        The normalised weights the IF network runs.
    seed_ : int
        Brian2 seed of ``predict`` (drawn from ``random_state`` in ``fit``).
    """

    _model, _kind, _ann_file = "converted-mlp", "conversion", "mlp.npz"

    def __init__(self, hidden=(500,), epochs: int = 20, batch_size: int = 128,
                 lr: float = 1e-3, alpha: float = 1e-4, schedule: str = "constant",
                 norm="99.9", steps: int = 64, input: str = "analog", reset: str = "subtract",
                 decode: str = "count", device: str = "runtime", lanes: int | None = None,
                 random_state=None):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.alpha = alpha
        self.schedule = schedule
        self.norm = norm
        self.steps = steps
        self.input = input
        self.reset = reset
        self.decode = decode
        self.device = device
        self.lanes = lanes
        self.random_state = random_state

    def _check_params(self) -> tuple[int, ...]:
        hidden = tuple(int(h) for h in np.atleast_1d(self.hidden))
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list at least one positive layer size, got "
                             f"{self.hidden!r}")
        self._check_common()
        return hidden

    def fit(self, X, y) -> ConvertedMLPClassifier:
        """Train the ANN on ``X, y`` and convert it, normalising with ``X``."""
        from sklearn.utils import check_random_state
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        hidden = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self._check_range(X)
        rng = check_random_state(self.random_state)
        ann_seed, self.seed_ = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        ann = mlp_classifier(hidden=hidden, epochs=self.epochs,
                             batch_size=min(int(self.batch_size), len(X)),
                             lr=self.lr, alpha=self.alpha, random_state=ann_seed)
        self.ann_ = fit_classifier(ann, X, y, schedule=self.schedule)
        self.classes_ = ann.classes_
        self.converted_ = convert(mlp_from_classifier(ann), X, self.norm, silent_factor=1.0)
        return self

    def _ann(self) -> MLP:
        return self.converted_.ann

    @classmethod
    def load(cls, path, *, norm_examples: int = 10000, **params) -> ConvertedMLPClassifier:
        """A fitted classifier from a run directory written by :meth:`save` or by
        ``brainlearn convert train``.

        A ``convert train`` directory holds no normalisation: it is normalised with ``norm``
        (a parameter, default ``"99.9"``) on ``norm_examples`` training images of its data,
        seeded as ``brainlearn convert evaluate`` seeds them; ``params`` set any parameter
        (``steps``, ``device``, ``input``, ...).
        """
        root = rundir.open_run(path)
        mlp = MLP.load(root / "mlp.npz")
        config = rundir.read_config(root)
        known = cls().get_params()
        saved = {k: v for k, v in config.items() if k in known}
        if (root / ESTIMATOR_FILE).is_file():
            clf = cls._from_saved(root, mlp, {**saved, **params})
        else:
            from brainlearn.data import load_mnist

            clf = cls(**{**saved, "hidden": tuple(mlp.sizes[1:-1]),
                         "random_state": config.get("seed"), **params})
            clf._check_params()
            x_norm, _ = load_mnist("train", n=norm_examples, seed=0,
                                   source=config.get("source", "full"))
            clf.converted_ = convert(mlp, x_norm, clf.norm)
            clf.classes_ = np.arange(mlp.sizes[-1])
            clf.seed_ = int(config.get("seed") or 0)
            clf.n_features_in_ = mlp.sizes[0]
        clf.ann_ = mlp
        return clf


class ConvertedCNNClassifier(_Converted):
    """The small CNN (PyTorch) trained on images, converted to IF neurons, classifying in Brian2.

    ``fit(X, y)`` takes square images (``n x side x side`` or ``n x side**2`` with ``side``
    divisible by 4; 0-255 or in ``[0, 1]``), trains :func:`~brainlearn.models.conversion.train_cnn`
    and normalises with the same images; ``predict`` runs the unrolled IF network in Brian2.
    scikit-learn's ``check_estimator`` does not apply: its checks feed a handful of
    arbitrary features, which are no image to convolve.

    Parameters
    ----------
    channels, hidden, epochs, batch_size, lr, schedule, shift, weight_decay
        Training of the CNN (see :func:`~brainlearn.models.conversion.train_cnn`).
    norm, steps, input, reset, decode, device, lanes
        As :class:`ConvertedMLPClassifier`.
    v_init : float
        Membrane at the start of every example in units of the threshold (0.5: Bu et al.
        2022).
    random_state : int or None
        Seeds training (torch and numpy) and the Brian2 seed of Poisson input.

    Attributes
    ----------
    classes_, n_features_in_, converted_, seed_
        As :class:`ConvertedMLPClassifier` (``converted_`` a ``ConvertedCNN``).
    ann_ : CNN
        The trained CNN's weights.
    """

    _model, _kind, _ann_file = "converted-cnn", "conversion_cnn", "cnn.npz"

    def __init__(self, channels=(32, 64), hidden: int = 128, epochs: int = 3,
                 batch_size: int = 64, lr: float = 1e-3, schedule: str = "constant",
                 shift: int = 0, weight_decay: float = 0.0, norm="99.9", steps: int = 64,
                 v_init: float = 0.5, input: str = "analog", reset: str = "subtract",
                 decode: str = "count", device: str = "runtime", lanes: int | None = None,
                 random_state=None):
        self.channels = channels
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.schedule = schedule
        self.shift = shift
        self.weight_decay = weight_decay
        self.norm = norm
        self.steps = steps
        self.v_init = v_init
        self.input = input
        self.reset = reset
        self.decode = decode
        self.device = device
        self.lanes = lanes
        self.random_state = random_state

    def _features(self, X, reset: bool) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 3:
            X = X.reshape(len(X), -1)
        if np.issubdtype(X.dtype, np.integer) or (X.size and X.max() > 1):
            X = X / 255.0
        X = super()._features(X, reset)
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1] or side % 4:
            raise ValueError(f"ConvertedCNNClassifier needs square images with a side divisible "
                             f"by 4 (e.g. 28 x 28 = 784 pixels), got {X.shape[1]} features")
        if X.min() < 0 or X.max() > 1:
            raise ValueError(f"pixels must lie in [0, 255] or [0, 1], got values in "
                             f"[{X.min():g}, {X.max():g}]")
        return X

    def fit(self, X, y) -> ConvertedCNNClassifier:
        """Train the CNN on images ``X`` with labels ``y`` and convert it, normalising with ``X``."""
        from sklearn.utils.multiclass import check_classification_targets

        from brainlearn.models.conversion.network import check_v_init

        self._check_common()
        check_v_init(self.v_init)
        X = self._features(X, reset=True)
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"{len(X)} images but {len(y)} labels")
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        self.seed_ = seed
        cnn = train_cnn(X.astype(np.float32), codes, channels=self.channels, hidden=self.hidden,
                        epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                        schedule=self.schedule, shift=self.shift,
                        weight_decay=self.weight_decay, seed=seed)
        self.ann_ = cnn
        self.converted_ = convert(cnn, X.astype(np.float32), self.norm)
        return self

    def _ann(self) -> CNN:
        return self.ann_

    @classmethod
    def load(cls, path, **params) -> ConvertedCNNClassifier:
        """A fitted classifier from a run directory written by :meth:`save` or by
        ``brainlearn convert cnn`` (normalised as that run was: its ``norm`` on its seeded
        normalisation images, its ``v_init`` and Brian2 ``steps``); ``params`` set other
        parameters (``device``, ``steps``, ...)."""
        root = rundir.open_run(path)
        cnn = CNN.load(root / "cnn.npz")
        config = rundir.read_config(root)
        known = cls().get_params()
        if (root / ESTIMATOR_FILE).is_file():
            saved = {k: v for k, v in config.items() if k in known}
            clf = cls._from_saved(root, cnn, {**saved, **params})
        else:
            from brainlearn.models.conversion.runs import norm_images

            saved = {k: config[k] for k in known if k in config and k not in ("steps", "device")}
            steps = max(config.get("steps", [64]))
            clf = cls(**{**saved, "steps": steps, "random_state": config.get("seed"), **params})
            clf._check_common()
            clf.converted_ = convert(cnn, norm_images(config), clf.norm)
            clf.classes_ = np.arange(cnn.fc[1][0].shape[1])
            clf.seed_ = int(config.get("seed") or 0)
            clf.n_features_in_ = cnn.image ** 2
        clf.ann_ = cnn
        return clf
