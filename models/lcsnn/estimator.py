"""The LC-SNN as a scikit-learn classifier: fit, predict, score, save, load.

>>> from brainlearn.data import load_mnist
>>> from brainlearn.models.lcsnn import LCSNNClassifier
>>> x, y = load_mnist("train", source="embedded")
>>> clf = LCSNNClassifier(n_filters=25).fit(x, y)             # doctest: +SKIP
>>> clf.score(*load_mnist("test", source="embedded"))         # doctest: +SKIP
>>> clf.save("runs/lcsnn_mine")                                # doctest: +SKIP
>>> LCSNNClassifier.load("runs/lcsnn25").predict(my_images)    # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from brainlearn import rundir
from brainlearn.atomic import save_npz
from brainlearn.data.images import check_images

__all__ = ["LCSNNClassifier", "ASSIGNMENTS"]

#: spike counts and spikes of the images a fitted estimator assigned its readout on
ASSIGNMENTS = "assignments.npz"


class LCSNNClassifier(ClassifierMixin, BaseEstimator):
    """Saunders et al. (2019): unsupervised local STDP, then a readout, as an estimator.

    ``fit(X, y)`` trains the network unsupervised on the images ``X`` (one pass per epoch,
    through the same code as the ``lcsnn`` model's ``train``, in a run directory), then shows
    the same images to the frozen network and fits the readout on its spikes (``y`` is used
    only there). ``predict(X)`` shows new images to the frozen network and applies the
    readout. One binary trains and, frozen, shows images; it is kept after ``fit``: under
    ``cpp_standalone`` it holds Brian2's device until :meth:`close` (or the end of a ``with``
    block). Predictions are
    reproducible: the frozen network's spike trains are seeded from ``seed``.

    Parameters
    ----------
    n_filters : int
        Filters per location (9 cells per filter).
    kernel, stride : int, optional
        Patch size and stride (default: the paper's for ``n_filters``).
    epochs : int
        Passes over ``X``.
    readout : str
        ``vote``, ``ngram``, ``logistic`` or ``online``.
    seed : int
        Seed of the initial weights and of all spike trains.
    device : str
        ``cpp_standalone`` or ``runtime``.
    run_dir : str, optional
        Where ``fit`` trains (default: a temporary directory, removed with the estimator
        unless saved).
    one_spike : bool
        One crossing cell spikes per step, as the authors' BindsNET cells
        (:class:`~brainlearn.models.lcsnn.model.LCSNNParams`; ``cpp_standalone`` only).
    """

    def __init__(self, n_filters: int = 25, kernel: int | None = None, stride: int | None = None,
                 epochs: int = 1, readout: str = "vote", seed: int = 0,
                 device: str = "cpp_standalone", run_dir: str | None = None,
                 one_spike: bool = False) -> None:
        self.n_filters = n_filters
        self.kernel = kernel
        self.stride = stride
        self.epochs = epochs
        self.readout = readout
        self.seed = seed
        self.device = device
        self.run_dir = run_dir
        self.one_spike = one_spike

    def fit(self, X, y) -> LCSNNClassifier:
        """Train on ``X`` unsupervised, then fit the readout on the frozen network's spikes."""
        from brainlearn.models.lcsnn.readouts import READOUTS
        from brainlearn.models.lcsnn.training import train

        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")
        X = check_images(X)
        self.close()
        y = np.asarray(y, dtype=np.int64)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} images but y has {len(y)} labels")
        if self.run_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lcsnn-")
            run = Path(self._tmp.name) / "run"
        else:
            run = Path(self.run_dir)
        train(run, n_filters=self.n_filters, kernel=self.kernel, stride=self.stride,
              epochs=self.epochs, seed=self.seed, device=self.device, images=X, progress=False,
              params={"one_spike": True} if self.one_spike else None)
        self.run_dir_ = run
        self._load_trained(run)
        arrays = self._spikes(X, "assign")
        arrays["assign_labels"] = y
        save_npz(run / ASSIGNMENTS, **arrays)
        self._fit_readout(arrays)
        return self

    def _load_trained(self, run: Path) -> None:
        from brainlearn.models.lcsnn.training import trained_state

        config, self.params_, self.weights_, self.theta_ = trained_state(run)
        self.config_ = config

    def _fit_readout(self, arrays: dict) -> None:
        from brainlearn.models.lcsnn.training import fit_readout

        self.readout_ = fit_readout(self.readout, arrays, self.seed)
        self.classes_ = np.arange(10)

    def _spikes(self, X: np.ndarray, stage: str) -> dict:
        from brainlearn.models.lcsnn.network import present_all

        p = self.params_
        out = present_all(self._frozen(), p, X, self.weights_, self.theta_, p.decay_every,
                          self.seed + 1)
        return {f"{stage}_counts": out.counts, f"{stage}_spike_example": out.spike_example,
                f"{stage}_spike_step": out.spike_step, f"{stage}_spike_neuron": out.spike_neuron}

    def _frozen(self):
        """The network that shows images frozen: the run's own binary (built by ``fit``, so
        nothing is compiled again) or, for a run without one, compiled on first use in a
        temporary folder; kept (it holds Brian2's device until :meth:`close`)."""
        from brainlearn.models.lcsnn.network import BUILD, compile_network

        sim = getattr(self, "_sim", None)
        if sim is None:
            run = getattr(self, "run_dir_", None)
            if run is not None and (Path(run) / BUILD).is_dir():
                folder = Path(run)
            else:
                self._build = tempfile.TemporaryDirectory(prefix="lcsnn-frozen-")
                folder = Path(self._build.name)
            sim = self._sim = compile_network(self.params_, self.params_.decay_every, folder,
                                              device=self.device)
        return sim

    def close(self) -> None:
        """Give Brian2's device back (the next ``predict`` compiles the network again)."""
        sim = getattr(self, "_sim", None)
        if sim is not None:
            sim.close()
            self._sim = None

    def __enter__(self) -> LCSNNClassifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def predict(self, X) -> np.ndarray:
        """The readout's class for each image (28x28, 0-255)."""
        from brainlearn.models.lcsnn.readouts import NgramReadout, firing_steps

        check_is_fitted(self, "readout_")
        X = check_images(X)
        a = self._spikes(X, "test")
        if isinstance(self.readout_, NgramReadout):
            firing = firing_steps(a["test_spike_example"], a["test_spike_step"],
                                  a["test_spike_neuron"], len(X))
            return np.asarray(self.readout_.predict(firing))
        return np.asarray(self.readout_.predict(a["test_counts"]))

    def save(self, path: str | Path) -> Path:
        """Copy the fitted run directory to ``path`` (a new directory); ``load`` reads it."""
        check_is_fitted(self, "readout_")
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; give a new directory")
        shutil.copytree(self.run_dir_, path,
                        ignore=shutil.ignore_patterns("build", "build_*", "*.lock"))
        return path

    @classmethod
    def load(cls, path: str | Path, readout: str | None = None) -> LCSNNClassifier:
        """A fitted estimator from a run directory: one ``fit`` saved, or an evaluated
        ``lcsnn`` training run (its readout fitted on the assignment images)."""
        from brainlearn.models.lcsnn.training import EVALUATION

        run = rundir.open_run(path)
        config = rundir.read_config(run, required=True)
        source = run / ASSIGNMENTS if (run / ASSIGNMENTS).exists() else run / EVALUATION
        if not source.exists():
            raise ValueError(f"{path} has no readout yet: evaluate it first")
        clf = cls(n_filters=config["n_filters"], kernel=config["kernel"],
                  stride=config["stride"], epochs=config["epochs"],
                  readout=readout or config.get("readout", "vote"), seed=config["seed"],
                  device=config.get("device") or "cpp_standalone", run_dir=str(run))
        clf.run_dir_ = run
        clf._load_trained(run)
        with np.load(source) as f:
            arrays = {k: f[k] for k in f.files if k.startswith("assign_")}
        clf._fit_readout(arrays)
        return clf
