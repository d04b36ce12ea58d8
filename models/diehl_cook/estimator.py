"""The Diehl & Cook (2015) network as a scikit-learn classifier: fit, predict, save, load.

>>> from brainlearn.data import load_mnist
>>> from brainlearn.models.diehl_cook import DiehlCookClassifier
>>> x, y = load_mnist("train", source="embedded")
>>> clf = DiehlCookClassifier(n_neurons=100, epochs=1).fit(x, y)   # doctest: +SKIP
>>> clf.predict(my_images)                                          # doctest: +SKIP
>>> clf.save("runs/my_net")                                         # doctest: +SKIP
>>> DiehlCookClassifier.load("runs/n400").score(x_test, y_test)    # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from brainlearn import rundir
from brainlearn.atomic import save_npz
from brainlearn.data.images import check_images
from brainlearn.readout import VoteReadout

__all__ = ["DiehlCookClassifier", "ASSIGNMENTS"]

#: the label assignment of a run fitted by :meth:`DiehlCookClassifier.fit`: the counts and
#: labels of the images it assigned the labels on (``assign_counts``, ``assign_labels``)
ASSIGNMENTS = "assignments.npz"


class DiehlCookClassifier(ClassifierMixin, BaseEstimator):
    """Diehl & Cook (2015): unsupervised STDP, labels assigned by vote, as an estimator.

    ``fit(X, y)`` trains the network unsupervised on the images ``X`` through the same code
    as ``brainlearn mnist train`` (a run directory, checkpointed chunks, the compiled
    network), then shows the same images to the frozen network and labels every neuron with
    the class it responds to most (``y`` is used only there), as ``brainlearn mnist
    evaluate`` does with the training images. ``predict(X)`` shows new images to the frozen
    network and takes the paper's vote: the class whose neurons fire most per neuron.

    The frozen network is compiled once per estimator, on the first call that needs it,
    and reused by every later ``predict``/``score`` (see :class:`FrozenNetwork`); under a
    standalone device it holds Brian2's device between calls: :meth:`close` (or a ``with``
    block) gives it back. Each call starts every chunk of images from the rest state with
    seeds derived from ``seed``: the same images give the same predictions, before and after
    :meth:`save` / :meth:`load`.

    ``check_estimator`` is not run on it: every ``fit`` generates and compiles a network
    and trains it for minutes, and its input is 28x28 images with 0-255 values, not the
    arbitrary small arrays the checks feed. The tests check ``clone``, ``get_params``,
    refitting, the fitted attributes and the save/load round trip instead.

    Parameters
    ----------
    n_neurons : int
        Excitatory neurons N (the paper: 100, 400, 1600, 6400).
    epochs : float, optional
        Passes over the training images (default one).
    examples : int, optional
        Training images shown instead (give ``epochs`` or ``examples``).
    params : str
        ``"paper"`` (the paper's parameters) or ``"sized"`` (theta_plus scaled to N below
        200 cells, :meth:`DiehlCookParams.sized`).
    theta_plus : Quantity, optional
        Threshold increment per spike instead of the paper's 0.05 mV (``params="paper"``).
    integration : str
        ``"implicit_euler"`` (default), ``"exponential_euler"`` or ``"euler"`` (the
        original's forward Euler).
    timer : str
        Reading of the original code's threshold timer: ``"brian1"`` or ``"brian2"``.
    seed : int
        Seed of the initial weights and delays and of every run's Poisson input.
    device : str
        ``"cpp_standalone"`` (default), ``"runtime"`` or ``"cuda_standalone"``.
    threads : int, optional
        OpenMP threads of ``cpp_standalone``.
    chunk : int
        Images per compiled run (a checkpoint after each while training).
    run_dir : path, optional
        Where ``fit`` writes its run directory (must not hold a run, unless this estimator
        fitted it: a refit replaces it and reuses its compiled builds); default a temporary
        directory, removed with the estimator (keep a fitted network with :meth:`save`).
    progress : bool
        Progress bars.

    Attributes
    ----------
    classes_ : ndarray
        The class labels seen in ``fit``.
    n_features_in_ : int
        784 (pixels of a 28x28 image).
    weights_ : ndarray
        Input weights ``(784, n_neurons)``.
    theta_ : ndarray
        Adaptive threshold increments ``(n_neurons,)`` in volts.
    delays_ : ndarray
        Input delays ``(784, n_neurons)`` in seconds.
    readout_ : VoteReadout
        The label assignment (``readout_.assignments_``: each neuron's class index, -1 for
        a neuron that never fired).
    config_ : TrainConfig
        The run's configuration.
    run_dir_ : Path
        The run directory it was fitted in or loaded from.
    """

    def __init__(self, n_neurons: int = 100, epochs: float | None = None,
                 examples: int | None = None, params: str = "paper", theta_plus=None,
                 integration: str = "implicit_euler", timer: str = "brian1", seed: int = 0,
                 device: str = "cpp_standalone", threads: int | None = None, chunk: int = 1000,
                 run_dir: str | Path | None = None, progress: bool = False) -> None:
        self.n_neurons = n_neurons
        self.epochs = epochs
        self.examples = examples
        self.params = params
        self.theta_plus = theta_plus
        self.integration = integration
        self.timer = timer
        self.seed = seed
        self.device = device
        self.threads = threads
        self.chunk = chunk
        self.run_dir = run_dir
        self.progress = progress

    # -- fitting ---------------------------------------------------------------------------

    def _config(self):
        from brainlearn.models.diehl_cook.config import TrainConfig

        return TrainConfig.create(
            neurons=self.n_neurons, examples=self.examples, epochs=self.epochs, seed=self.seed,
            device=self.device, threads=self.threads, data="arrays", timer=self.timer,
            chunk=self.chunk, theta_plus=self.theta_plus, params=self.params,
            integration=self.integration)

    def _new_run_dir(self) -> Path:
        # where this fit trains: a new directory, or the one this estimator fitted in last
        # (emptied, its compiled builds kept: a refit recompiles nothing)
        from brainlearn.models.diehl_cook.runs import replace_run

        last = getattr(self, "_fit_dir", None)
        if self.run_dir is None:
            cleanup = getattr(self, "_cleanup", None)
            if last is not None and cleanup is not None and cleanup.alive and last.is_dir():
                return replace_run(last)
            path = Path(tempfile.mkdtemp(prefix="brainlearn_diehl_cook_"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(path), True)
        else:
            path = Path(self.run_dir)
            if (path / rundir.CONFIG).exists():
                if last is not None and last.resolve() == path.resolve():
                    return replace_run(path)
                raise ValueError(f"run_dir {path} already holds a run; give a new directory, "
                                 f"or DiehlCookClassifier.load({str(path)!r}) to use it")
        self._fit_dir = path
        return path

    def fit(self, X, y) -> DiehlCookClassifier:
        """Train on the images ``X`` (unsupervised), then assign the labels ``y``.

        Parameters
        ----------
        X : array_like, shape (n, 28, 28) or (n, 784)
            Images, pixel values 0-255, white digit on black (MNIST's convention).
        y : array_like, shape (n,)
            Their classes (read only by the label assignment).
        """
        from brainlearn.models.diehl_cook.training import train

        pixels = check_images(X)
        labels = np.asarray(y)
        if labels.shape != (len(pixels),):
            raise ValueError(f"y must hold one label per image ({len(pixels)}), got shape "
                             f"{labels.shape}")
        check_classification_targets(labels)
        config = self._config()  # validates the hyper-parameters before anything is written
        self.close()
        run_dir = self._new_run_dir()
        with rundir.new_run(run_dir):
            train(run_dir, config, progress=self.progress, images=(pixels, labels))
        self._set_run(run_dir)
        self._assign(pixels, labels)
        return self

    def _set_run(self, run_dir: Path, device: str | None = None) -> None:
        # the fitted state of a trained run directory: its config and weights
        from brainlearn.models.diehl_cook.config import load_npz, read_run_config

        if not (Path(run_dir) / "weights.npz").exists():
            raise FileNotFoundError(f"{run_dir} has no trained weights (weights.npz): train it "
                                    "first (brainlearn mnist train, or DiehlCookClassifier.fit)")
        self.run_dir_ = Path(run_dir)
        self.config_ = read_run_config(run_dir, device)
        weights = load_npz(Path(run_dir) / "weights.npz")
        self.weights_ = np.asarray(weights["weights"])
        self.theta_ = np.asarray(weights["theta"])
        self.delays_ = np.asarray(weights["delays"])
        self.n_features_in_ = self.weights_.shape[0]

    def _assign(self, pixels: np.ndarray, labels: np.ndarray) -> None:
        # label every neuron by its responses to the images (frozen network), and record it
        counts = self._frozen().counts(pixels, "assign", self.progress, desc="assign")
        self._set_readout(counts, labels)
        save_npz(self.run_dir_ / ASSIGNMENTS, assign_counts=counts.astype(np.int32),
                 assign_labels=labels, assignments=self.readout_.assignments_)

    def _set_readout(self, counts: np.ndarray, labels: np.ndarray) -> None:
        self._assigned = (np.asarray(counts), np.asarray(labels))  # kept for save()
        self.readout_ = VoteReadout().fit(counts, labels)
        self.classes_ = self.readout_.classes_

    # -- the frozen network ----------------------------------------------------------------

    def _frozen(self):
        from brainlearn.models.diehl_cook.frozen import FrozenNetwork

        net = getattr(self, "_network", None)
        if net is None:
            weights = {"weights": self.weights_, "theta": self.theta_, "delays": self.delays_}
            build_dir = getattr(self, "_build_dir", None) or self.run_dir_
            if not build_dir.is_dir():
                build_dir = Path(tempfile.mkdtemp(prefix="brainlearn_diehl_cook_build_"))
            net = self._network = FrozenNetwork(self.config_, weights, build_dir)
        return net

    def close(self) -> None:
        """Release the compiled network (and Brian2's device); a later call compiles again."""
        net = getattr(self, "_network", None)
        if net is not None:
            net.close()
        self._network = None

    def __enter__(self) -> DiehlCookClassifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        # a pickled (or deep-copied) estimator carries its weights, not the compiled network
        state = super().__getstate__()
        state.pop("_network", None)
        state.pop("_cleanup", None)
        state.pop("_fit_dir", None)  # a copy never empties the directory of its original
        return state

    # -- prediction ------------------------------------------------------------------------

    def spike_counts(self, X) -> np.ndarray:
        """Spike counts ``(n, n_neurons)`` of each image's input window (frozen network)."""
        check_is_fitted(self, "readout_")
        return self._frozen().counts(check_images(X), "test", self.progress)

    def class_spikes(self, X) -> np.ndarray:
        """Spikes per class ``(n, n_classes)``: each image's spike count summed over the
        neurons assigned to each class (0 for a class without neurons)."""
        counts = self.spike_counts(X)
        return self._class_spikes(counts)

    def _class_spikes(self, counts: np.ndarray) -> np.ndarray:
        assigned = self.readout_.assignments_
        return np.stack([counts[:, assigned == c].sum(axis=1)
                         for c in range(len(self.classes_))], axis=1)

    def predict(self, X) -> np.ndarray:
        """The class of each image: the paper's vote (the class whose assigned neurons fire
        most per neuron)."""
        counts = self.spike_counts(X)
        return self.readout_.predict(counts)

    def predict_with_spikes(self, X) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` and :meth:`class_spikes` of one run over ``X``."""
        counts = self.spike_counts(X)  # checks that it is fitted first
        return self.readout_.predict(counts), self._class_spikes(counts)

    # -- run directories -------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the fitted network as a run directory that :meth:`load` (and ``brainlearn
        mnist predict``) reads: ``config.json``, ``weights.npz``, ``assignments.npz`` and
        the other files of the run it was fitted in (not its build folders).

        ``path`` must not exist yet (saving to the estimator's own run directory only
        rewrites its label assignment). Returns ``path``.
        """
        check_is_fitted(self, "readout_")
        path = Path(path)
        if path.exists() and path.resolve() != self.run_dir_.resolve():
            raise FileExistsError(f"{path} already exists: give a new directory to save to")
        if not path.exists():
            tmp = path.with_name(f".{path.name}.saving")
            shutil.rmtree(tmp, ignore_errors=True)
            if self.run_dir_.is_dir():
                shutil.copytree(self.run_dir_, tmp, ignore=shutil.ignore_patterns(
                    "build_*", ".*tmp*", "checkpoint.npz"))
            else:  # a copy whose temporary run directory went with its original
                from brainlearn.models.diehl_cook.training import MODEL_NAME

                tmp.mkdir(parents=True)
                rundir.write_config(tmp, {**self.config_.to_json(), "model": MODEL_NAME},
                                    kind="diehl_cook")
            save_npz(tmp / "weights.npz", weights=self.weights_, theta=self.theta_,
                     delays=self.delays_)
            self._save_assignment(tmp)
            tmp.rename(path)
        else:
            self._save_assignment(path)
        return path

    def _save_assignment(self, path: Path) -> None:
        counts, labels = self._assigned
        save_npz(path / ASSIGNMENTS, assign_counts=counts.astype(np.int32),
                 assign_labels=labels, assignments=self.readout_.assignments_)

    @property
    def _assignment_data(self) -> tuple[np.ndarray, np.ndarray]:
        # the counts and labels the readout was fitted on
        from brainlearn.models.diehl_cook.config import load_npz

        for name in (ASSIGNMENTS, "eval_counts.npz"):
            if (self.run_dir_ / name).exists():
                data = load_npz(self.run_dir_ / name)
                return data["assign_counts"], data["assign_labels"]
        raise FileNotFoundError(f"{self.run_dir_} lost its label assignment ({ASSIGNMENTS})")

    @classmethod
    def load(cls, path: str | Path, device: str | None = None, assign=None,
             progress: bool = False, build_dir: str | Path | None = None) -> DiehlCookClassifier:
        """The fitted estimator of a run directory.

        Reads every directory ``brainlearn mnist train`` writes once ``brainlearn mnist
        evaluate`` has assigned its labels (``eval_counts.npz``), and every directory
        :meth:`save` writes (``assignments.npz``).

        Parameters
        ----------
        path : path
            The run directory.
        device : str, optional
            Run the frozen network on this device instead of the run's.
        assign : (X, y), optional
            Images and labels to assign the neurons' labels on (recorded in the run
            directory as ``assignments.npz``), for a run that was trained but never
            evaluated; without it such a run raises ``ValueError`` naming the fix.
        progress : bool
            Progress bars.
        build_dir : path, optional
            Where the frozen network is compiled (``build_dir/build_eval``; default the run
            directory). A folder that already holds the build of a network of the same size,
            parameters and chunk size recompiles nothing.
        """
        path = rundir.open_run(path)
        model = cls(progress=progress)
        model._build_dir = None if build_dir is None else Path(build_dir)
        model._set_run(path, device)
        config = model.config_
        model.set_params(
            n_neurons=config.neurons, epochs=None, examples=config.examples,
            params=config.param_set, theta_plus=config.theta_plus,
            integration=config.integration, timer=config.timer, seed=config.seed,
            device=config.device, threads=config.threads, chunk=config.chunk, run_dir=path)
        if assign is not None:
            x, y = assign
            model._assign(check_images(x), np.asarray(y))
            return model
        for name in (ASSIGNMENTS, "eval_counts.npz"):
            if (path / name).exists():
                counts, labels = model._assignment_data
                model._set_readout(counts, labels)
                return model
        raise ValueError(
            f"{path} is trained but its neurons have no labels yet: run brainlearn mnist "
            f"evaluate {path} (assigns them on the training images), or "
            f"DiehlCookClassifier.load(path, assign=(images, labels))")
