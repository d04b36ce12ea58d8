"""The e-prop readout as a scikit-learn classifier: :class:`EpropReadout`, trained in Brian2.

The readout part of e-prop (Bellec et al. 2020, Nat. Commun. 11:3625, eq. 28 and Methods):
leaky readout neurons ``y_k[t] = kappa y_k[t-1] + (1 - kappa) sum_j W_kj z_j[t]``, softmax
output, and for every image (one sequence, batch size 1) the update

    ``dW_kj = -eta / n_window * sum_{t in window} (pi_k[t] - pi*_k[t]) zbar_j[t]``

with ``zbar_j`` the presynaptic spikes filtered with ``kappa``: local (presynaptic trace times
the readout neuron's own error) and online (one update after each image). It runs the same
Brian2 equation strings and optimizer code as the recurrent network
(:mod:`brainlearn.models.eprop.equations`).

>>> readout = EpropReadout(steps=50, window=25).fit(train_trains, train_labels)
>>> readout.score(test_trains, test_labels)
>>> readout.save("runs/n100"); EpropReadout.load("runs/n100").predict(test_trains)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    Quantity,
    StateMonitor,
    Synapses,
    TimedArray,
    defaultclock,
    device,
    ms,
)
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    check_non_negative,
    column_or_1d,
    validate_data,
)

from brainlearn.atomic import save_npz
from brainlearn.devices import use_device
from brainlearn.models.eprop.equations import (
    READOUT_CLOSE,
    READOUT_EQUATIONS,
    READOUT_ERROR,
    READOUT_LOSS,
    READOUT_PI,
    READOUT_RESET_SEQ,
    READOUT_STEP,
    READOUT_SYN_ACCUMULATE,
    READOUT_SYN_CLOSE,
    READOUT_SYN_EQUATIONS,
    SCHEDULE,
    optimizer_code,
)
from brainlearn.models.eprop.params import EpropParams
from brainlearn.models.eprop.trains import counts_to_spike_trains
from brainlearn.rundir import read_json, write_json
from brainlearn.units import check_quantity

__all__ = ["EpropReadout", "DEFAULT_TAU_OUT", "SAVED_FILES"]

#: the readout membrane time constant when ``tau_out`` is None
DEFAULT_TAU_OUT = 20 * ms
#: what :meth:`EpropReadout.save` writes into a run directory
SAVED_FILES = ("eprop_readout.json", "eprop_readout.npz")
_DEVICES = ("runtime", "cpp_standalone")


class EpropReadout(ClassifierMixin, BaseEstimator):
    """Softmax readout of spike trains trained online with e-prop, in Brian2.

    Parameters
    ----------
    n_classes : int, optional
        Readout neurons, one per class ``0 .. n_classes - 1``; default: one per label seen
        in ``fit`` (any labels, returned as given).
    steps : int
        Time steps per image (1 ms each).
    window : int
        Last steps of each image in which the error counts (``1 .. steps``).
    tau_out : Quantity, optional
        Readout membrane time constant (default :data:`DEFAULT_TAU_OUT`, 20 ms).
    eta : float
        Learning rate (gradient descent, one update per image).
    epochs : int
        Passes over the training images.
    seed : int
        Seed of the order of the training images.
    device : str
        ``"runtime"`` or ``"cpp_standalone"`` (one build per data size under ``directory``).
    directory : path, optional
        Parent of the standalone builds.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels.
    n_features_in_ : int
        Input neurons seen in ``fit``.
    coef_ : numpy.ndarray
        ``(n_classes, n_neurons)`` readout weights ``W_kj``.
    fit_seconds_ : float
        Wall time of ``fit``.
    """

    def __init__(self, n_classes: int | None = None, steps: int = 50, window: int = 25,
                 tau_out: Quantity | None = None, eta: float = 0.05, epochs: int = 1,
                 seed: int = 0, device: str = "runtime",
                 directory: str | Path | None = None) -> None:
        self.n_classes = n_classes
        self.steps = steps
        self.window = window
        self.tau_out = tau_out
        self.eta = eta
        self.epochs = epochs
        self.seed = seed
        self.device = device
        self.directory = directory

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # spikes or spike counts
        tags.input_tags.three_d_array = True  # spike trains (images, steps, neurons)
        return tags

    # ---- validation ------------------------------------------------------------------------
    def _check_params(self) -> None:
        """One clear ValueError for a hyper-parameter out of range (called by ``fit``)."""
        if self.device not in _DEVICES:
            raise ValueError(f"device must be one of {_DEVICES}, got {self.device!r}")
        if self.device == "cpp_standalone" and self.directory is None:
            raise ValueError("device='cpp_standalone' needs a build directory (directory=...)")
        for name in ("steps", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.window, int | np.integer) or not 1 <= self.window <= self.steps:
            raise ValueError(f"window must be an integer in 1..steps={self.steps}, "
                             f"got {self.window!r}")
        if self.n_classes is not None and (not isinstance(self.n_classes, int | np.integer)
                                           or self.n_classes < 1):
            raise ValueError(f"n_classes must be a positive integer or None, "
                             f"got {self.n_classes!r}")
        if not np.isfinite(self.eta) or self.eta < 0:
            raise ValueError(f"eta must be a finite number >= 0, got {self.eta!r}")
        self._tau_out()

    def _tau_out(self) -> Quantity:
        if self.tau_out is None:
            return DEFAULT_TAU_OUT
        return check_quantity("tau_out", self.tau_out, ms)

    def _inputs(self, x, y=None, reset: bool = True):
        """Validated spike trains ``(images, steps, neurons)`` or counts ``(images, neurons)``."""
        three_d = getattr(x, "ndim", None) == 3 or (
            not hasattr(x, "ndim") and np.asarray(x, dtype=object).ndim == 3)
        if not three_d:  # counts: scikit-learn's own checks (feature names, n_features_in_)
            if y is None:
                return validate_data(self, x, dtype=np.float64, reset=reset), None
            return validate_data(self, x, y, dtype=np.float64, reset=reset)
        x = check_array(x, allow_nd=True, dtype=np.float64)
        if x.shape[1] != self.steps:
            raise ValueError(f"spike trains have {x.shape[1]} steps per image, the readout "
                             f"{self.steps}: build them with spike_trains(..., steps="
                             f"{self.steps}, ...)")
        if reset:
            self.n_features_in_ = x.shape[2]
        elif x.shape[2] != self.n_features_in_:
            raise ValueError(f"X has {x.shape[2]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        if y is not None:
            y = column_or_1d(y, warn=True)
            check_consistent_length(x, y)
        return x, y

    def _labels(self, y) -> np.ndarray:
        """Set ``classes_``; the index of every label in it."""
        check_classification_targets(y)
        if self.n_classes is None:
            self.classes_ = np.unique(y)
        else:
            self.classes_ = np.arange(int(self.n_classes))
            if not np.all(np.isin(y, self.classes_)):
                bad = sorted(set(np.asarray(y).tolist()) - set(self.classes_.tolist()))[:5]
                raise ValueError(f"labels must lie in 0..{self.n_classes - 1} "
                                 f"(n_classes={self.n_classes}), got {bad}")
        return np.searchsorted(self.classes_, y)

    # ---- the scikit-learn API --------------------------------------------------------------
    def fit(self, X, y) -> EpropReadout:
        """Train online, one update per image, ``epochs`` passes in a seeded order.

        Parameters
        ----------
        X : array_like
            Spike trains ``(images, steps, neurons)`` (:func:`~brainlearn.models.eprop.trains.
            spike_trains`), or spike counts ``(images, neurons)``, spread evenly over the
            steps (:func:`~brainlearn.models.eprop.trains.counts_to_spike_trains`).
        y : array_like, shape (images,)
            Class of every image.
        """
        self._check_params()
        x, y = self._inputs(X, y)
        check_non_negative(x, f"{type(self).__name__}.fit (spikes)")
        codes = self._labels(y)
        rng = np.random.default_rng(self.seed)
        w = np.zeros((len(self.classes_), x.shape[-1]))
        start = time.perf_counter()
        for _ in range(self.epochs):
            order = rng.permutation(len(codes))
            w, _ = self._run(w, self._stimulus(x[order]), codes[order], self.eta)
        self.coef_ = w
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Softmax output per class, averaged over the learning window (no learning).

        Parameters
        ----------
        X : array_like
            Spike trains or counts, as for :meth:`fit`.
        """
        check_is_fitted(self)
        x, _ = self._inputs(X, reset=False)
        check_non_negative(x, f"{type(self).__name__} (spikes)")
        _, out = self._run(self.coef_, self._stimulus(x), np.zeros(len(x), dtype=int), 0.0)
        return out

    def predict(self, X) -> np.ndarray:
        """The class with the highest window-averaged softmax output.

        Parameters
        ----------
        X : array_like
            Spike trains or counts, as for :meth:`fit`.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ---- a run directory -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted readout into the directory ``path`` (:data:`SAVED_FILES`).

        ``brainlearn eprop mnist-readout RUN`` saves the readout it trained this way into the
        Diehl & Cook run directory; :meth:`load` reads it back.
        """
        check_is_fitted(self)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        tau = params.pop("tau_out")
        params["tau_out_ms"] = None if tau is None else float(self._tau_out() / ms)
        params["directory"] = None if self.directory is None else str(self.directory)
        write_json(path / SAVED_FILES[0], {
            "params": params, "classes": self.classes_.tolist(),
            "n_features_in": int(self.n_features_in_), "fit_seconds": self.fit_seconds_})
        save_npz(path / SAVED_FILES[1], coef=self.coef_)
        return path

    @classmethod
    def load(cls, path: str | Path) -> EpropReadout:
        """The readout :meth:`save` wrote into the directory ``path``, fitted."""
        path = Path(path)
        if not (path / SAVED_FILES[0]).exists():
            raise FileNotFoundError(f"{path} holds no e-prop readout ({SAVED_FILES[0]}): run "
                                    f"brainlearn eprop mnist-readout {path}")
        saved = read_json(path / SAVED_FILES[0])
        params = dict(saved["params"])
        tau = params.pop("tau_out_ms", None)
        model = cls(**params, tau_out=None if tau is None else tau * ms)
        model.classes_ = np.asarray(saved["classes"])
        model.n_features_in_ = int(saved["n_features_in"])
        model.fit_seconds_ = float(saved.get("fit_seconds", 0.0))
        with np.load(path / SAVED_FILES[1]) as f:
            model.coef_ = np.asarray(f["coef"], dtype=float)
        return model

    # ---- the Brian2 network ----------------------------------------------------------------
    def _stimulus(self, x: np.ndarray) -> np.ndarray:
        """The input table (images * steps, neurons) of spike trains or counts ``x``."""
        if x.ndim == 3:
            return x.reshape(-1, x.shape[2]).astype(float)
        return counts_to_spike_trains(x, self.steps)

    def _params(self, n_in: int, n_out: int, eta: float) -> EpropParams:
        return EpropParams(n_in=n_in, n_rec=n_in, n_out=n_out, n_adaptive=0,
                           sequence=self.steps * ms, learning_window=self.window * ms,
                           tau_out=self._tau_out(), loss="cross_entropy",
                           optimizer="gradient_descent", eta=eta, batch_size=1,
                           average_gradient=True, w_min=-1e6, w_max=1e6)

    def _run(self, w: np.ndarray, stim: np.ndarray, labels: np.ndarray, eta: float):
        """Weights after one pass over ``stim`` from ``w``, and the window-averaged output."""
        p = self._params(stim.shape[1], w.shape[0], eta)
        n_seq = len(labels)
        steps = n_seq * p.steps
        stim_tab = np.zeros((steps + 1, p.n_in))
        stim_tab[:steps] = stim
        target_tab = np.zeros((steps + 1, p.n_out))
        target_tab[1:] = np.repeat(np.eye(p.n_out)[labels], p.steps, axis=0)
        standalone = self.device == "cpp_standalone"
        build_dir = Path(self.directory) / f"build_{n_seq}" if standalone else None
        with use_device(self.device, build_dir):
            return _simulate(p, stim_tab, target_tab, w, n_seq, build_dir)


def _simulate(p: EpropParams, stim_tab: np.ndarray, target_tab: np.ndarray,
              w: np.ndarray, n_seq: int, build_dir: Path | None):
    """Build and run the readout network on the current device (see ``EpropReadout._run``)."""
    c = p.constants()
    steps = n_seq * p.steps
    defaultclock.dt = p.dt
    ns = dict(c, stim=TimedArray(stim_tab, dt=p.dt), target=TimedArray(target_tab, dt=p.dt))
    src = NeuronGroup(p.n_in, "x = stim(t, i) : 1\nz : 1\nseq0 : integer (shared)",
                      threshold="x > 0.5", reset="", namespace=ns, dt=p.dt)
    out = NeuronGroup(p.n_out, READOUT_EQUATIONS + "norm : 1\n", namespace=ns, dt=p.dt,
                      order=1)
    syn = Synapses(src, out, READOUT_SYN_EQUATIONS.format(summed=""),
                   on_pre="I_out_post += w", namespace=ns, dt=p.dt)
    pre, post = (a.ravel() for a in np.meshgrid(np.arange(p.n_in), np.arange(p.n_out),
                                                indexing="ij"))
    syn.connect(i=pre, j=post)
    syn.w = w[post, pre]
    norm = Synapses(out, out, "norm_post = exp(y_pre) : 1 (summed)", namespace=ns, dt=p.dt)
    norm.connect()
    period = p.sequence
    objects = [src, out, syn, norm]

    def op(group, code, key, every=None):
        when, order = SCHEDULE[key]
        kw = {"dt": every} if every is not None else {}
        objects.append(group.run_regularly(code, when=when, order=order, **kw))

    op(syn, READOUT_SYN_ACCUMULATE, "accumulate")
    op(syn, READOUT_SYN_CLOSE + optimizer_code(p, "seq0_pre"), "close_synapses", period)
    op(out, "\n".join([READOUT_PI[p.loss], READOUT_LOSS[p.loss], READOUT_ERROR]),
       "readout_error")
    op(out, READOUT_CLOSE, "close_neurons", period)
    op(out, READOUT_RESET_SEQ, "reset", period)
    op(out, READOUT_STEP, "readout")
    # the presynaptic spike of step t, read by the accumulation of step t+1
    objects.append(src.run_regularly("z = x", when="end", order=1))
    mon = StateMonitor(out, "pi_seq", record=True, dt=period, when="groups",
                       order=SCHEDULE["reset"][1])
    objects.append(mon)
    Network(objects).run((steps + 1) * p.dt, namespace={})
    if build_dir is not None:
        device.build(directory=str(build_dir), compile=True, run=True, with_output=False)
    new = w.copy()
    new[post, pre] = np.asarray(syn.w_[:])
    return new, np.asarray(mon.pi_seq_[:])[:, 1:n_seq + 1].T
