"""An e-prop readout trained online on the spikes of a finished network (Diehl & Cook MNIST).

The readout part of e-prop (Bellec et al. 2020, Nat. Commun. 11:3625, eq. 28 and Methods):
leaky readout neurons ``y_k[t] = kappa y_k[t-1] + (1 - kappa) sum_j W_kj z_j[t]``, softmax
output, and for every image (one sequence, batch size 1) the update

    ``dW_kj = -eta / n_window * sum_{t in window} (pi_k[t] - pi*_k[t]) zbar_j[t]``

with ``zbar_j`` the presynaptic spikes filtered with ``kappa``: local (presynaptic trace times
the readout neuron's own error) and online (one update after each image). It runs the same
Brian2 equation strings and optimizer code as :mod:`brainlearn.models.eprop`.

A Diehl & Cook run records, for its label-assignment (training) and test images, the spikes
their counts were taken from, timed from the start of each image's input window
(``assign_spikes.parquet``, ``test_spikes.parquet``; see :mod:`brainlearn.rundir`). Every
image becomes a sequence of ``steps`` readout steps: the recorded spike of neuron ``j`` at
time ``t`` of a window of length ``T_w`` falls on step ``floor(t steps / T_w)`` (the default
50 steps of 1 ms play the 350 ms window at 7x speed; ``steps`` = 700 replays it step for step
at the network's 0.5 ms). :func:`counts_to_spike_trains` (counts spread evenly) remains for
spike counts without timing.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from brian2 import (
    Network,
    NeuronGroup,
    StateMonitor,
    Synapses,
    TimedArray,
    defaultclock,
    device,
    ms,
)

from brainlearn import rundir
from brainlearn.devices import use_device
from brainlearn.models.eprop import (
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
    EpropParams,
    optimizer_code,
)

__all__ = ["counts_to_spike_trains", "spike_trains", "EpropReadout", "evaluate_run"]


def counts_to_spike_trains(counts: np.ndarray, steps: int) -> np.ndarray:
    """Spike trains (images * steps, neurons) with each count spread evenly over ``steps``.

    Parameters
    ----------
    counts : ndarray (images, neurons)
        Spike counts per image (more than ``steps`` is clipped to one spike per step).
    steps : int
        Time steps per image.
    """
    counts = np.minimum(np.asarray(counts, dtype=int), steps)
    n_img, n = counts.shape
    out = np.zeros((n_img, steps, n))
    img, neuron = np.nonzero(counts)
    for a, j in zip(img, neuron, strict=True):
        c = counts[a, j]
        out[a, ((np.arange(c) + 0.5) * steps / c).astype(int), j] = 1
    return out.reshape(n_img * steps, n)


def spike_trains(spikes: pd.DataFrame, n_examples: int, n_neurons: int, steps: int,
                 window: float) -> np.ndarray:
    """Spike trains (examples, steps, neurons) from recorded spikes timed per example.

    Parameters
    ----------
    spikes : DataFrame
        ``neuron``, ``example`` and ``t``: seconds from the start of the example's window
        (as :func:`brainlearn.rundir.read_window_spikes` returns them).
    n_examples, n_neurons : int
        Shape of the result (silent examples and neurons included).
    steps : int
        Steps per example: a spike at ``t`` falls on step ``floor(t * steps / window)``; two
        spikes of one neuron in one step make one spike (none at the network's own ``dt``).
    window : float
        Length of each example's window in seconds.
    """
    t = spikes["t"].to_numpy(float)
    if len(t) and (t.min() < 0 or t.max() >= window):
        raise ValueError(f"spike times must lie in each example's window [0, {window}) s")
    # the small tolerance keeps a spike on the step boundary it was recorded at
    step = np.minimum(np.floor(t * steps / window + 1e-9).astype(np.int64), steps - 1)
    out = np.zeros((n_examples, steps, n_neurons), dtype=np.uint8)
    out[spikes["example"].to_numpy(np.int64), step, spikes["neuron"].to_numpy(np.int64)] = 1
    return out


class EpropReadout:
    """Softmax readout of spike trains trained online with e-prop, in Brian2.

    Parameters
    ----------
    n_classes : int
        Readout neurons.
    steps : int
        Time steps per image (1 ms each).
    window : int
        Last steps of each image in which the error counts.
    tau_out : Quantity
        Readout membrane time constant.
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
    """

    def __init__(self, n_classes: int = 10, steps: int = 50, window: int = 25,
                 tau_out=20 * ms, eta: float = 0.05, epochs: int = 1, seed: int = 0,
                 device: str = "runtime", directory: str | Path | None = None) -> None:
        if device not in ("runtime", "cpp_standalone"):
            raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device!r}")
        if device == "cpp_standalone" and directory is None:
            raise ValueError("cpp_standalone needs a build directory")
        self.device = device
        self.directory = directory
        self.n_classes = n_classes
        self.steps = steps
        self.window = window
        self.tau_out = tau_out
        self.eta = eta
        self.epochs = epochs
        self.seed = seed

    def _params(self, n_in: int, eta: float) -> EpropParams:
        return EpropParams(n_in=n_in, n_rec=n_in, n_out=self.n_classes, n_adaptive=0,
                           sequence=self.steps * ms, learning_window=self.window * ms,
                           tau_out=self.tau_out, loss="cross_entropy",
                           optimizer="gradient_descent", eta=eta, batch_size=1,
                           average_gradient=True, w_min=-1e6, w_max=1e6)

    def _run(self, w: np.ndarray, stim: np.ndarray, labels: np.ndarray, eta: float):
        p = self._params(stim.shape[1], eta)
        n_seq = len(labels)
        steps = n_seq * p.steps
        stim_tab = np.zeros((steps + 1, p.n_in))
        stim_tab[:steps] = stim
        target_tab = np.zeros((steps + 1, p.n_out))
        target_tab[1:] = np.repeat(np.eye(p.n_out)[labels], p.steps, axis=0)
        standalone = self.device == "cpp_standalone"
        build_dir = Path(self.directory) / f"build_{n_seq}" if standalone else None
        with use_device(self.device, build_dir):
            return self._simulate(p, stim_tab, target_tab, w, n_seq, build_dir)

    def _simulate(self, p: EpropParams, stim_tab: np.ndarray, target_tab: np.ndarray,
                  w: np.ndarray, n_seq: int, build_dir: Path | None):
        """Build and run the readout network on the current device (see ``_run``)."""
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


    def _stimulus(self, x: np.ndarray) -> np.ndarray:
        """The input table (images * steps, neurons) of spike trains or counts ``x``."""
        if x.ndim == 3:
            if x.shape[1] != self.steps:
                raise ValueError(f"spike trains have {x.shape[1]} steps per image, the readout "
                                 f"{self.steps}: build them with spike_trains(..., steps="
                                 f"{self.steps}, ...)")
            return x.reshape(-1, x.shape[2]).astype(float)
        if x.ndim == 2:
            return counts_to_spike_trains(x, self.steps)
        raise ValueError(f"expected spike trains (images, steps, neurons) or counts "
                         f"(images, neurons), got an array of shape {x.shape}")

    def fit(self, x: np.ndarray, labels: np.ndarray) -> EpropReadout:
        """Train online, one update per image, ``epochs`` passes in a seeded order.

        Parameters
        ----------
        x : ndarray
            Spike trains ``(images, steps, neurons)`` (:func:`spike_trains`), or spike counts
            ``(images, neurons)``, spread evenly over the steps (:func:`counts_to_spike_trains`).
        labels : ndarray of int
            Class of every image.
        """
        x = np.asarray(x)
        labels = np.asarray(labels, dtype=int)
        rng = np.random.default_rng(self.seed)
        w = np.zeros((self.n_classes, x.shape[-1]))
        start = time.perf_counter()
        for _ in range(self.epochs):
            order = rng.permutation(len(labels))
            w, _ = self._run(w, self._stimulus(x[order]), labels[order], self.eta)
        self.coef_ = w
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class with the highest softmax output averaged over the window (no learning)."""
        x = np.asarray(x)
        labels = np.zeros(len(x), dtype=int)
        _, out = self._run(self.coef_, self._stimulus(x), labels, 0.0)
        return np.argmax(out, axis=1)

    def score(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of correctly classified images."""
        return float((self.predict(x) == np.asarray(labels)).mean())


def recorded_trains(run_dir: str | Path, stage: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Spike trains ``(images, steps, neurons)`` and labels of a run's ``stage`` images.

    From the spikes the run recorded (``assign_spikes.parquet`` or ``test_spikes.parquet``);
    a run evaluated before they were recorded raises ``FileNotFoundError`` saying so.
    """
    spikes, attrs = rundir.read_window_spikes(run_dir, stage)
    (n_neurons,) = attrs["n_neurons"].values()
    trains = spike_trains(spikes, attrs["n_examples"], n_neurons, steps, attrs["window"])
    return trains, attrs["labels"]


def evaluate_run(run_dir: str | Path, **kwargs) -> dict:
    """Train an :class:`EpropReadout` on an evaluated Diehl & Cook run, score the test images.

    The readout trains on the recorded spike trains of the label-assignment (training)
    images and is scored on those of the test images (:func:`recorded_trains`). Merges
    ``accuracy_eprop``, ``eprop_readout_seconds``, ``eprop_input`` (``"recorded spike
    timing"``), ``eprop_steps`` and ``eprop_step_ms`` (recorded time per readout step) into
    the run's ``metrics.json``; the ``brainlearn compare`` table shows it beside the vote,
    logistic and delta-rule readouts.

    Parameters
    ----------
    run_dir : path
        An evaluated Diehl & Cook run directory.
    **kwargs
        Passed to :class:`EpropReadout`.
    """
    run_dir = rundir.open_run(run_dir)
    model = EpropReadout(**kwargs)
    train_x, train_y = recorded_trains(run_dir, "assign", model.steps)
    test_x, test_y = recorded_trains(run_dir, "test", model.steps)
    window = rundir.read_window_spikes(run_dir, "test")[1]["window"]
    model.fit(train_x, train_y)
    accuracy = model.score(test_x, test_y)
    return rundir.update_metrics(run_dir, {
        "accuracy_eprop": accuracy, "eprop_readout_seconds": round(model.fit_seconds_, 2),
        "eprop_input": "recorded spike timing", "eprop_steps": model.steps,
        "eprop_step_ms": 1000 * window / model.steps,
    })
