"""The STDP + BP hybrid: a frozen Diehl & Cook layer feeding a LIF output layer trained by BPTT.

The hidden layer is the excitatory layer of a finished Diehl & Cook run (P. U. Diehl, M. Cook
2015, Front. Comput. Neurosci. 9:99), learned without labels by STDP and frozen. The run
recorded, for its label-assignment (training) images and its test images, the spikes of that
layer in each image's 350 ms input window (``assign_spikes.parquet``, ``test_spikes.parquet``;
:func:`brainlearn.rundir.read_window_spikes`). On those spike trains, binned into ``steps``
steps per image (:func:`brainlearn.models.eprop.spike_trains`), a layer of 10
:class:`~brainlearn.neurons.DiscreteLIF` neurons (reset by subtraction) is trained with a
surrogate gradient (E. O. Neftci, H. Mostafa, F. Zenke 2019, IEEE Signal Process. Mag. 36:51)::

    I[t] = z[t] W + b                              z[t]: hidden spikes of step t, (N,)
    U[t] = beta U[t-1] + I[t] - theta S[t-1]       (S[t-1] detached)
    S[t] = H(U[t] - theta)                         H' replaced by the ATan surrogate

by backpropagation through time with Adam: unsupervised STDP features, then supervised
gradient-trained spiking output, the "STDP pre-training followed by supervised fine-tuning"
line of C. Lee, P. Panda, G. Srinivasan, K. Roy (2018), Front. Neurosci. 12:435 (here only the
output layer is trained; the STDP layer stays as it is). The class is the output neuron with the
most spikes, ties broken by the larger summed membrane (:func:`brainlearn.models.surrogate.decode`).

The input current of all steps is one matrix product ``(T, B, N) @ (N, 10)``; only the
10-neuron scan over ``T`` runs step by step.

Defaults, chosen on training images only (the N=100 run's assignment spikes: 10,000 images
trained, 5,000 others held out, 4 epochs):

- ``steps`` = 350, 1 ms bins of the 350 ms window. The excitatory neurons are refractory for
  5 ms, so no neuron spikes twice within 1 ms and every recorded spike survives the binning,
  timed to the millisecond (a step longer than the network's 0.5 ms). The e-prop readout's 50
  steps of 7 ms, where spikes can merge, held out as well (84.6 % against 84.4 %) in a tenth
  of the time; ``steps=50`` is the fast option.
- ``loss`` = ``"count_ce"``: 83.8 % held out against 81.0 % for ``"membrane_ce"`` (Adam,
  ``lr`` 1e-2; 3e-3 and 3e-2 did worse, batches of 512 too).
- ``beta`` = 0.95 (0.99: 81.0 %); a half-cosine learning-rate decay steadies the last epochs
  (constant ``lr`` made the held-out accuracy of the full training swing between 81.7 % and
  84.3 % from epoch to epoch).
- no bias: 83.0 % held out against 83.7 % with one, but 9 output spikes per image instead of
  58; with a bias the output neurons learn to fire tonically.

:func:`simulate` runs the trained layer in Brian2: a ``SpikeGeneratorGroup`` replays the binned
hidden spikes (the trainer's input, step for step) through ``Synapses`` (``v_post += w``) into
a :class:`~brainlearn.neurons.DiscreteLIF` ``NeuronGroup``; many images run side by side
(:mod:`brainlearn.lanes`). :func:`evaluate` compares its predictions with the trainer's.

>>> from brainlearn.models.hybrid import train_run, evaluate_run      # doctest: +SKIP
>>> train_run("runs/n100")            # writes runs/n100/hybrid/       # doctest: +SKIP
>>> evaluate_run("runs/n100")         # trainer, Brian2, agreement     # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import atomic_path, save_npz
from brainlearn.models.eprop import spike_trains
from brainlearn.models.surrogate import Activity, Surrogate, decode, require_torch
from brainlearn.neurons import DiscreteLIF

__all__ = ["LOSSES", "SUBDIR", "RecordedSpikes", "HybridLayer", "train", "forward", "simulate",
           "evaluate", "train_run", "evaluate_run"]

#: ``"membrane_ce"``: cross-entropy of the output membrane at every step, averaged over the
#: steps (snnTorch tutorial 5); ``"count_ce"``: cross-entropy of the output spike counts
LOSSES = ("membrane_ce", "count_ce")
#: the folder inside a Diehl & Cook run directory that holds the hybrid's files
SUBDIR = "hybrid"


class RecordedSpikes:
    """The recorded hidden-layer spikes of one stage of a run, as spike trains on demand.

    Parameters
    ----------
    spikes : DataFrame
        ``neuron``, ``example``, ``t`` (s from the example's window start).
    n_neurons : int
        Hidden layer size.
    window : float
        Window length in seconds.
    labels : array of int
        Class of every example (silent examples included).
    """

    def __init__(self, spikes: pd.DataFrame, n_neurons: int, window: float, labels) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.n_neurons = int(n_neurons)
        self.window = float(window)
        example = spikes["example"].to_numpy(np.int64)
        order = np.argsort(example, kind="stable")
        self._example = example[order]
        self._neuron = spikes["neuron"].to_numpy(np.int64)[order]
        self._t = spikes["t"].to_numpy(np.float64)[order]
        self._offsets = np.searchsorted(self._example, np.arange(len(self.labels) + 1))

    @classmethod
    def from_run(cls, run_dir: str | Path, stage: str) -> RecordedSpikes:
        """The ``"assign"`` or ``"test"`` spikes a run recorded (:func:`rundir.read_window_spikes`)."""
        spikes, attrs = rundir.read_window_spikes(run_dir, stage)
        (n_neurons,) = attrs["n_neurons"].values()
        return cls(spikes, n_neurons, attrs["window"], attrs["labels"])

    def take(self, examples) -> RecordedSpikes:
        """The spikes of the given examples only, renumbered ``0 .. len(examples) - 1``."""
        examples = np.asarray(examples, dtype=np.int64)
        start, stop = self._offsets[examples], self._offsets[examples + 1]
        lengths = stop - start
        rows = np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        sub = pd.DataFrame({"neuron": self._neuron[rows], "t": self._t[rows],
                            "example": np.repeat(np.arange(len(examples)), lengths)})
        return RecordedSpikes(sub, self.n_neurons, self.window, self.labels[examples])

    def __len__(self) -> int:
        return len(self.labels)

    def spike_counts(self, examples=None) -> np.ndarray:
        """Spikes per example (all hidden neurons)."""
        examples = np.arange(len(self)) if examples is None else np.asarray(examples)
        return (self._offsets[examples + 1] - self._offsets[examples]).astype(np.float64)

    def trains(self, examples, steps: int) -> np.ndarray:
        """Spike trains ``(len(examples), steps, n_neurons)`` (uint8) of the given examples.

        Binned by :func:`brainlearn.models.eprop.spike_trains`: a spike at ``t`` falls
        on step ``floor(t * steps / window)``.
        """
        sub = self.take(examples)
        frame = pd.DataFrame({"neuron": sub._neuron, "t": sub._t, "example": sub._example})
        return spike_trains(frame, len(sub), self.n_neurons, steps, self.window)

    def binned(self, examples, steps: int, chunk: int = 1000
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(position in examples, step, neuron)`` of every spike of :meth:`trains`.

        Built ``chunk`` examples at a time, so the dense trains of all examples never exist.
        """
        examples = np.asarray(examples, dtype=np.int64)
        parts = []
        for first in range(0, len(examples), chunk):
            pos, step, neuron = np.nonzero(self.trains(examples[first:first + chunk], steps))
            parts.append((pos + first, step, neuron))
        if not parts:
            return tuple(np.zeros(0, np.int64) for _ in range(3))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


@dataclass
class HybridLayer:
    """The trained LIF output layer of the hybrid.

    Attributes
    ----------
    weights : ndarray (n_hidden, n_classes)
        Hidden-to-output weights (float32).
    bias : ndarray (n_classes,)
        Constant input per step (zeros when trained without bias).
    beta, threshold : float
        Membrane decay per step and threshold (:class:`~brainlearn.neurons.DiscreteLIF`).
    steps : int
        Steps per image; each lasts ``window / steps`` of recorded time (1 ms in Brian2).
    window : float
        Recorded window per image, seconds (0.35 for Diehl & Cook).
    surrogate : Surrogate
    history : DataFrame
        ``epoch, loss, train_accuracy, validation_accuracy, seconds`` per epoch.
    config : dict
        Training settings.
    """

    weights: np.ndarray
    bias: np.ndarray
    beta: float = 0.95
    threshold: float = 1.0
    steps: int = 350
    window: float = 0.35
    surrogate: Surrogate = field(default_factory=Surrogate)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: dict = field(default_factory=dict)

    @property
    def neuron(self) -> DiscreteLIF:
        """The output neuron model."""
        return DiscreteLIF(beta=self.beta, v_thresh=self.threshold)

    @property
    def n_parameters(self) -> int:
        """Trained parameters (weights, and biases when trained with them)."""
        return int(self.weights.size + (self.bias.size if self.config.get("bias", True) else 0))

    def save(self, path: str | Path) -> Path:
        """Write weights, settings and training curve to ``path`` (``.npz``, atomically)."""
        meta = {"beta": self.beta, "threshold": self.threshold, "steps": self.steps,
                "window": self.window, "surrogate": self.surrogate.name,
                "surrogate_scale": self.surrogate.scale, "config": self.config}
        history = {f"history_{c}": self.history[c].to_numpy() for c in self.history.columns}
        return save_npz(path, weights=self.weights, bias=self.bias,
                        meta=np.array(json.dumps(meta)), **history)

    @classmethod
    def load(cls, path: str | Path) -> HybridLayer:
        """Read a layer written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no trained hybrid layer at {path}; train one with "
                                    f"`brainlearn hybrid train {path.parent.parent}`")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            history = pd.DataFrame({k[len("history_"):]: data[k] for k in data.files
                                    if k.startswith("history_")})
            weights, bias = data["weights"], data["bias"]
        return cls(weights, bias, meta["beta"], meta["threshold"], int(meta["steps"]),
                   float(meta["window"]), Surrogate(meta["surrogate"], meta["surrogate_scale"]),
                   history, meta.get("config", {}))


def _scan(torch, current, beta: float, threshold: float, surrogate: Surrogate):
    """The LIF scan over the steps of ``current`` ``(T, B, C)``: membranes and spikes."""
    mem = torch.zeros_like(current[0])
    spk = torch.zeros_like(mem)
    mems, spks = [], []
    for t in range(current.shape[0]):
        mem = beta * mem + current[t] - threshold * spk.detach()
        spk = surrogate.spike(mem - threshold)
        mems.append(mem)
        spks.append(spk)
    return torch.stack(mems), torch.stack(spks)


def _batch_current(torch, spikes: RecordedSpikes, examples, steps, w, b, dtype):
    """``(T, B, C)`` input current of the examples: one matrix product over all steps."""
    x = torch.from_numpy(spikes.trains(examples, steps)).to(dtype).transpose(0, 1)
    return x @ w + b


def _check_settings(beta, threshold, steps, loss, batch_size, epochs, validation, schedule):
    DiscreteLIF(beta=beta, v_thresh=threshold)  # checks beta and threshold
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("epochs", epochs)):
        if int(value) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 0 <= validation < 1:
        raise ValueError(f"validation must be a fraction in [0, 1), got {validation!r}")


def train(spikes: RecordedSpikes, *, steps: int = 350, beta: float = 0.95,
          threshold: float = 1.0, bias: bool = False, surrogate: str | Surrogate = "atan",
          loss: str = "count_ce", lr: float = 1e-2, batch_size: int = 128, epochs: int = 5,
          schedule: str = "cosine", validation: float = 0.0, seed: int = 0,
          threads: int | None = 1,
          progress: bool = False) -> HybridLayer:
    """Train the LIF output layer on recorded hidden spike trains by BPTT (Adam).

    Parameters
    ----------
    spikes : RecordedSpikes
        The training (label-assignment) images' hidden spikes and labels.
    steps : int
        Steps per image (the window is binned into them).
    beta, threshold : float
        Output neurons' decay per step and threshold.
    bias : bool
        Train a constant input per output neuron.
    surrogate : str or Surrogate
        Gradient of the spike function (ATan by default).
    loss : {"membrane_ce", "count_ce"}
        See :data:`LOSSES`.
    lr, batch_size, epochs : float, int, int
        Adam learning rate, minibatch size, passes over the training images.
    schedule : {"cosine", "constant"}
        ``"cosine"``: the learning rate falls from ``lr`` to 0 along a half cosine over all
        batches (SGDR without restarts, I. Loshchilov, F. Hutter 2017); ``"constant"``.
    validation : float
        Fraction of the images held out (seeded) and scored after every epoch; the layer is
        trained on the rest.
    seed : int
        Seed of the weight initialisation (PyTorch's ``Linear`` default), the split and the
        batch order.
    threads : int, optional
        ``torch.set_num_threads`` during training (restored afterwards).
    progress : bool
        A tqdm bar over batches.
    """
    torch = require_torch()
    surrogate = surrogate if isinstance(surrogate, Surrogate) else Surrogate(surrogate)
    _check_settings(beta, threshold, steps, loss, batch_size, epochs, validation, schedule)
    steps, batch_size, epochs = int(steps), int(batch_size), int(epochs)
    labels = spikes.labels
    if len(labels) < 2:
        raise ValueError("need at least two training images")
    n_classes = max(int(labels.max()) + 1, 2)
    rng = np.random.default_rng(seed)
    split = rng.permutation(len(labels))
    n_val = int(round(validation * len(labels)))
    val_idx, train_idx = np.sort(split[:n_val]), split[n_val:]
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    rows = []
    try:
        torch.manual_seed(seed)
        layer = torch.nn.Linear(spikes.n_neurons, n_classes, bias=bias)
        optimizer = torch.optim.Adam(layer.parameters(), lr=lr, betas=(0.9, 0.999))
        yt = torch.from_numpy(labels)
        functional = torch.nn.functional
        n_batches = math.ceil(len(train_idx) / batch_size)
        scheduler = None
        if schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                                   epochs * n_batches)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=epochs * n_batches, desc="hybrid BPTT", unit="batch")
        for epoch in range(epochs):
            start = time.perf_counter()
            order = rng.permutation(train_idx)
            loss_sum, correct = 0.0, 0
            for k in range(n_batches):
                idx = order[k * batch_size:(k + 1) * batch_size]
                x = torch.from_numpy(spikes.trains(idx, steps)).float().transpose(0, 1)
                mem, spk = _scan(torch, layer(x), beta, threshold, surrogate)
                if loss == "membrane_ce":
                    value = functional.cross_entropy(mem.reshape(-1, n_classes),
                                                     yt[idx].repeat(steps))
                else:
                    value = functional.cross_entropy(spk.sum(0), yt[idx])
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                loss_sum += float(value.detach()) * len(idx)
                pred = decode(spk.detach().sum(0).numpy(), mem.detach().sum(0).numpy())
                correct += int((pred == labels[idx]).sum())
                if bar is not None:
                    bar.update()
                    bar.set_postfix(loss=f"{float(value):.3f}")
            seconds = time.perf_counter() - start
            val_acc = float("nan")
            if n_val:
                w = layer.weight.detach().T
                b = layer.bias.detach() if bias else torch.zeros(n_classes)
                act = _forward(torch, spikes, val_idx, steps, w, b, beta, threshold, surrogate,
                               torch.float32)
                val_acc = float((act.predict() == labels[val_idx]).mean())
            rows.append({"epoch": epoch + 1, "loss": loss_sum / len(train_idx),
                         "train_accuracy": correct / len(train_idx),
                         "validation_accuracy": val_acc, "seconds": seconds})
        if bar is not None:
            bar.close()
    finally:
        torch.set_num_threads(old_threads)
    weights = layer.weight.detach().numpy().T.copy()
    b = layer.bias.detach().numpy().copy() if bias else np.zeros(n_classes, np.float32)
    config = {"steps": steps, "beta": beta, "threshold": threshold, "bias": bool(bias),
              "surrogate": surrogate.name, "surrogate_scale": surrogate.scale, "loss": loss,
              "lr": lr, "schedule": schedule, "batch_size": batch_size, "epochs": epochs,
              "validation": validation,
              "seed": seed, "train_examples": len(train_idx), "validation_examples": n_val}
    return HybridLayer(weights, b, float(beta), float(threshold), steps, spikes.window,
                       surrogate, pd.DataFrame(rows), config)


def _forward(torch, spikes, examples, steps, w, b, beta, threshold, surrogate, dtype,
             batch_size: int = 500) -> Activity:
    counts, membrane = [], []
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            idx = examples[i:i + batch_size]
            mem, spk = _scan(torch, _batch_current(torch, spikes, idx, steps, w, b, dtype),
                             beta, threshold, surrogate)
            counts.append(spk.sum(0).numpy())
            membrane.append(mem.sum(0).numpy())
    n_out = w.shape[1]
    counts = np.concatenate(counts).astype(np.float64) if counts else np.zeros((0, n_out))
    membrane = np.concatenate(membrane).astype(np.float64) if membrane else np.zeros((0, n_out))
    return Activity(counts, membrane, counts.sum(axis=1) + spikes.spike_counts(examples))


def forward(layer: HybridLayer, spikes: RecordedSpikes, examples=None, *,
            dtype: str = "float64", threads: int | None = 1) -> Activity:
    """The trainer's forward pass (PyTorch, no gradient) on recorded hidden spikes.

    Parameters
    ----------
    layer : HybridLayer
    spikes : RecordedSpikes
    examples : array of int, optional
        Which examples (default all).
    dtype : {"float64", "float32"}
        Precision (float64 is Brian2's; training runs in float32).
    threads : int, optional
        ``torch.set_num_threads`` during the pass.

    Returns
    -------
    Activity
        Output spike counts, summed output membrane, and spikes per inference (the hidden
        layer's recorded spikes plus the output spikes).
    """
    torch = require_torch()
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    tdtype = getattr(torch, dtype)
    examples = np.arange(len(spikes)) if examples is None else np.asarray(examples)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        w = torch.as_tensor(np.asarray(layer.weights), dtype=tdtype)
        b = torch.as_tensor(np.asarray(layer.bias), dtype=tdtype)
        return _forward(torch, spikes, examples, layer.steps, w, b, layer.beta,
                        layer.threshold, layer.surrogate, tdtype)
    finally:
        torch.set_num_threads(old_threads)


def simulate(layer: HybridLayer, spikes: RecordedSpikes, examples=None, *,
             lanes: int | None = None, max_synapses: float = 4e6, device: str = "runtime",
             directory=None) -> Activity:
    """Run the trained output layer in Brian2 on the recorded hidden spikes.

    A ``SpikeGeneratorGroup`` replays the binned spikes (:meth:`RecordedSpikes.trains`, the
    trainer's input) one step of ``layer.neuron.step`` (1 ms) per bin, through ``Synapses``
    (``v_post += w``) into a :class:`~brainlearn.neurons.DiscreteLIF` group that checks its
    threshold after the synapses of the same step; a ``run_regularly`` adds the bias before
    and another resets the membranes at the start of every image. ``lanes`` copies run side
    by side (:mod:`brainlearn.lanes`): example ``e`` in lane ``e % lanes``, slot
    ``e // lanes``.

    Parameters
    ----------
    layer : HybridLayer
    spikes : RecordedSpikes
    examples : array of int, optional
        Which examples (default all).
    lanes : int, optional
        Parallel copies (default: as many as ``max_synapses`` allows).
    max_synapses : float
        Synapse budget that sets the default ``lanes``.
    device : {"runtime", "cpp_standalone"}
        Through :func:`brainlearn.lanes.lane_runner` (:func:`brainlearn.devices.use_device`).
    directory : path, optional
        Build directory of ``cpp_standalone``.

    Returns
    -------
    Activity
        As :func:`forward`.
    """
    from brian2 import Network, SpikeGeneratorGroup, StateMonitor, second

    from brainlearn.lanes import connect_lanes, lane_count, lane_runner, read_lanes

    examples = np.arange(len(spikes)) if examples is None else np.asarray(examples)
    n = len(examples)
    if n == 0:
        raise ValueError("examples must hold at least one example")
    n_in, n_out = layer.weights.shape
    if n_in != spikes.n_neurons:
        raise ValueError(f"the layer expects {n_in} hidden neurons, the spikes have "
                         f"{spikes.n_neurons}")
    T = int(layer.steps)
    n_lanes = lane_count(n_in * n_out, n, max_synapses, lanes)
    n_slots = math.ceil(n / n_lanes)
    model = layer.neuron
    step = model.step
    pos, s, j = spikes.binned(examples, T)
    index = (pos % n_lanes) * n_in + j
    times = ((pos // n_lanes) * T + s) * float(step / second) * second
    read = dict(lanes=n_lanes, n=n, n_slots=n_slots, t_max=T, record_every=T, steps=(T,))
    with lane_runner(device, directory) as run:
        net = Network()
        source = SpikeGeneratorGroup(n_lanes * n_in, index, times, dt=step)
        out = model.group(n_lanes * n_out, extra_equations="count : 1\nvsum : 1\nbias : 1\n",
                          extra_reset="count += 1")
        out.bias = np.tile(np.asarray(layer.bias, np.float64), n_lanes)
        out.run_regularly("v += bias", when="before_thresholds")
        # threshold after the synapses of the same step (zero delay, as in the trainer)
        out.set_event_schedule("spike", when="synapses", order=2)
        syn = connect_lanes(net, source, out, np.asarray(layer.weights, np.float64), n_lanes,
                            step)
        syn.pre.order = 1
        out.run_regularly("vsum += v", when="before_resets")
        out.run_regularly("v = 0\ncount = 0\nvsum = 0", dt=T * step, when="start", order=1)
        monitor = StateMonitor(out, ("count", "vsum"), record=True, dt=T * step, when="start",
                               order=-1)
        net.add(source, out, monitor)
        # one step more, so the monitor sees the state after the last image's final step
        run(net, (n_slots * T + 1) * step)
        counts = read_lanes(monitor, "count", n_out, **read)[0]
        membrane = read_lanes(monitor, "vsum", n_out, **read)[0]
    return Activity(counts, membrane, counts.sum(axis=1) + spikes.spike_counts(examples))


def evaluate(layer: HybridLayer, spikes: RecordedSpikes, *, brian2: bool = True,
             examples: int | None = None, brian2_examples: int | None = None,
             dtype: str = "float64", device: str = "runtime", lanes: int | None = None,
             directory=None) -> pd.DataFrame:
    """Test accuracy of the trainer's forward pass and of the layer in Brian2, and agreement.

    Parameters
    ----------
    layer : HybridLayer
    spikes : RecordedSpikes
        The test images' recorded hidden spikes and labels.
    brian2 : bool
        Also run :func:`simulate`.
    examples, brian2_examples : int, optional
        Score the first ``examples`` images (default all); Brian2 the first
        ``brian2_examples`` of them (default all).
    dtype : {"float64", "float32"}
        Precision of the trainer's forward pass.
    device, lanes, directory
        See :func:`simulate`.

    Returns
    -------
    pandas.DataFrame
        One row per implementation (``"trainer"``, ``"brian2"``): ``accuracy``,
        ``agreement`` (fraction of images predicted as by the trainer),
        ``spikes_per_inference`` (hidden + output), ``output_spikes_per_inference``, ``steps``,
        ``n_examples``, ``wall_seconds``.
    """
    k = len(spikes) if examples is None else min(int(examples), len(spikes))
    idx = np.arange(k)
    labels = spikes.labels[idx]
    start = time.perf_counter()
    ref = forward(layer, spikes, idx, dtype=dtype)
    ref_pred = ref.predict()

    def row(name, act, wall):
        m = len(act.counts)
        pred = act.predict()
        return {"implementation": name, "accuracy": float(np.mean(pred == labels[:m])),
                "agreement": float(np.mean(pred == ref_pred[:m])),
                "spikes_per_inference": float(act.spikes.mean()),
                "output_spikes_per_inference": float(act.counts.sum(axis=1).mean()),
                "steps": layer.steps, "n_examples": m, "wall_seconds": round(wall, 2)}

    rows = [row("trainer", ref, time.perf_counter() - start)]
    if brian2:
        m = k if brian2_examples is None else min(int(brian2_examples), k)
        start = time.perf_counter()
        act = simulate(layer, spikes, idx[:m], lanes=lanes, device=device, directory=directory)
        rows.append(row("brian2", act, time.perf_counter() - start))
    table = pd.DataFrame(rows)
    table["dtype"] = dtype
    return table


# --------------------------------------------------------------------------------------------
# Run directories
# --------------------------------------------------------------------------------------------
def _hybrid_dir(run_dir) -> tuple[Path, Path]:
    root = rundir.open_run(run_dir)
    return root, root / SUBDIR


def train_run(run_dir: str | Path, *, progress: bool = True, **kwargs) -> dict:
    """Train the hybrid on a finished Diehl & Cook run; write ``RUN_DIR/hybrid/``.

    Reads the run's recorded assignment (training) spikes, trains :func:`train` and writes
    ``hybrid/layer.npz``, ``hybrid/train_metrics.csv``, ``hybrid/config.json`` (``kind``
    ``"hybrid"``) and ``hybrid/metrics.json`` (``train_seconds``, ``parameters``, the last
    epoch's accuracies). The run's own files are not touched. A run without recorded spike
    timing raises ``FileNotFoundError`` saying to evaluate it again.

    Parameters
    ----------
    run_dir : path
        An evaluated Diehl & Cook run directory.
    progress : bool
        A progress bar over batches.
    **kwargs
        Passed to :func:`train`.
    """
    root, out = _hybrid_dir(run_dir)
    spikes = RecordedSpikes.from_run(root, "assign")
    RecordedSpikes.from_run(root, "test")  # fail now, not after training, if it is missing
    start = time.perf_counter()
    layer = train(spikes, progress=progress, **kwargs)
    wall = time.perf_counter() - start
    with rundir.new_run(out) as run:
        (run / "results.csv").unlink(missing_ok=True)  # an evaluation of an earlier layer
        layer.save(run / "layer.npz")
        with atomic_path(run / "train_metrics.csv") as tmp:
            layer.history.to_csv(tmp, index=False)
        rundir.write_config(run, {**layer.config, "run_dir": str(root),
                                  "hidden_neurons": spikes.n_neurons,
                                  "window_s": spikes.window}, kind="hybrid")
        last = layer.history.iloc[-1]
        metrics = {"train_seconds": round(wall, 2), "parameters": layer.n_parameters,
                   "train_examples": layer.config["train_examples"],
                   "train_accuracy": float(last["train_accuracy"]),
                   "validation_accuracy": (None if math.isnan(last["validation_accuracy"])
                                           else float(last["validation_accuracy"])),
                   "steps": layer.steps, "step_ms": 1000 * layer.window / layer.steps}
        rundir.write_json(run / rundir.METRICS, metrics)
        return metrics


def evaluate_run(run_dir: str | Path, *, brian2: bool = True, examples: int | None = None,
                 brian2_examples: int | None = None, dtype: str = "float64",
                 device: str = "runtime", lanes: int | None = None) -> pd.DataFrame:
    """Score the trained hybrid of ``run_dir`` on the run's recorded test spikes.

    Writes ``hybrid/results.csv`` (:func:`evaluate`) and merges ``accuracy_trainer``,
    ``accuracy_brian2``, ``agreement`` and ``spikes_per_inference`` into
    ``hybrid/metrics.json``; ``brainlearn compare --mnist-run RUN_DIR`` shows the row.
    """
    root, out = _hybrid_dir(run_dir)
    layer = HybridLayer.load(out / "layer.npz")
    spikes = RecordedSpikes.from_run(root, "test")
    directory = out / "build" if device == "cpp_standalone" else None
    table = evaluate(layer, spikes, brian2=brian2, examples=examples,
                     brian2_examples=brian2_examples, dtype=dtype, device=device, lanes=lanes,
                     directory=directory)
    table["device"] = device
    with atomic_path(out / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    metrics = {f"accuracy_{r.implementation}": float(r.accuracy) for r in table.itertuples()}
    metrics.update({f"n_examples_{r.implementation}": int(r.n_examples)
                    for r in table.itertuples()})
    if brian2:
        metrics["agreement"] = float(table["agreement"].iloc[-1])
    metrics["spikes_per_inference"] = float(table["spikes_per_inference"].iloc[-1])
    rundir.update_metrics(out, metrics)
    return table

