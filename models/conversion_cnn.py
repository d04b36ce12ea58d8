"""The converted CNN: a small MNIST CNN trained with PyTorch, run as IF neurons in Brian2.

The network of issue 16 (SpikingJelly's conversion tutorial; Diehl et al. 2015 convert a CNN
of the same kind)::

    conv 1->32 (3x3, pad 1), ReLU, 2x2 average pool,
    conv 32->64 (3x3, pad 1), ReLU, 2x2 average pool,
    fc 3136->128, ReLU, fc 128->10

trained with Adam on the CPU (the ``brainlearn[torch]`` extra). Conversion follows
:mod:`brainlearn.models.conversion` (Rueckauer et al. 2017): every ReLU layer is normalised by
the 99.9th percentile of its positive activations on training data, biases become constant
input currents, and the neurons are non-leaky IF neurons (threshold 1, reset by subtraction).

In Brian2 every layer is a ``NeuronGroup`` and every connection a ``Synapses`` object with
explicit connectivity: a convolution is unrolled into one synapse per (input pixel, kernel
tap, output channel) that falls inside the image (:func:`conv_synapses`; 3.28 million for
the second convolution, 3.72 million in the whole network), and an average pool is a layer of IF neurons, each fed by its 2x2 window
with weight 1/4 (:func:`pool_synapses`): a pool neuron then fires at the mean rate of its
window, so the pool layer's normalisation factor is that of the convolution below it.
Folding the pool into the next layer's weights instead would need no pool neurons but four
times the synapses of the next layer (13.1 million for the second convolution and 1.6 million
for the first fully connected layer: 4.0 times the network's synapses to save 9,408 of its
47,178 neurons), which is why the pools are layers here. The first convolution receives the image as an analog current
(``conv1(x) + b``, computed once per image), as the MLP's first layer does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from brainlearn.lanes import lane_count, lane_runner, preprocess, read_lanes

__all__ = ["CNN", "SparseLayer", "ConvertedCNN", "train_cnn", "conv_synapses", "pool_synapses",
           "convert_cnn", "simulate_cnn", "evaluate_cnn", "cnn_run"]


@dataclass
class CNN:
    """Weights of the two-convolution CNN (numpy arrays, PyTorch layouts).

    Attributes
    ----------
    conv : list of (kernel, bias)
        ``kernel`` ``(out, in, 3, 3)``, ``bias`` ``(out,)``.
    fc : list of (weight, bias)
        ``weight`` ``(n_in, n_out)`` (transposed from PyTorch), ``bias`` ``(n_out,)``.
    image : int
        Side of the square input image (28).
    history : pandas.DataFrame
        ``epoch, loss, train_accuracy, seconds``.
    """

    conv: list
    fc: list
    image: int = 28
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_parameters(self) -> int:
        return int(sum(w.size + b.size for w, b in (*self.conv, *self.fc)))

    def activations(self, x, batch_size: int = 500) -> list[np.ndarray]:
        """Every spiking layer's output, flattened ``(n, units)``: conv1, pool1, conv2, pool2,
        fc1 (ReLU) and the linear output."""
        torch = _torch()
        fn = torch.nn.functional
        x = preprocess(x)
        outs = [[] for _ in range(6)]
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                h = torch.from_numpy(x[s:s + batch_size]).reshape(-1, 1, self.image, self.image)
                layers = []
                for kernel, bias in self.conv:
                    h = fn.relu(fn.conv2d(h, torch.from_numpy(kernel), torch.from_numpy(bias),
                                          padding=1))
                    layers.append(h)
                    h = fn.avg_pool2d(h, 2)
                    layers.append(h)
                h = h.flatten(1)
                w, b = self.fc[0]
                h = fn.relu(h @ torch.from_numpy(w) + torch.from_numpy(b))
                layers.append(h)
                w, b = self.fc[1]
                layers.append(h @ torch.from_numpy(w) + torch.from_numpy(b))
                for k, a in enumerate(layers):
                    outs[k].append(a.flatten(1).numpy())
        return [np.concatenate(o) for o in outs]

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.activations(x)[-1], axis=1)

    def score(self, x, labels) -> float:
        return float(np.mean(self.predict(x) == np.asarray(labels)))


def _torch():
    from brainlearn.models.surrogate import require_torch

    return require_torch()


def train_cnn(x, labels, *, channels=(32, 64), hidden: int = 128, epochs: int = 3,
              batch_size: int = 64, lr: float = 1e-3, seed: int = 0, threads: int = 1,
              progress: bool = False) -> CNN:
    """Train the CNN with Adam and cross-entropy in PyTorch (CPU).

    Parameters
    ----------
    x, labels : array_like
        Images ``(n, 28, 28)`` (uint8, or floats in ``[0, 1]``) and classes ``0..9``.
    channels : (int, int)
        Output channels of the two convolutions (32, 64).
    hidden : int
        Units of the hidden fully connected layer (128).
    epochs, batch_size, lr, seed
        Passes, minibatch size, Adam learning rate, seed of the initialisation and order.
    threads : int
        ``torch.set_num_threads``.
    """
    torch = _torch()
    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    x = preprocess(x)
    side = int(round(math.sqrt(x.shape[1])))
    labels = np.asarray(labels).astype(np.int64)
    n_classes = int(labels.max()) + 1
    c1, c2 = (int(c) for c in channels)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(c2 * (side // 4) ** 2, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt = torch.from_numpy(x).reshape(-1, 1, side, side)
    yt = torch.from_numpy(labels)
    rng = np.random.default_rng(seed)
    rows = []
    epoch_iter = range(int(epochs))
    if progress:
        from tqdm import tqdm
        epoch_iter = tqdm(epoch_iter, desc="train CNN", unit="epoch")
    for epoch in epoch_iter:
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(x)))
        loss_sum, correct = 0.0, 0
        model.train()
        for s in range(0, len(x), batch_size):
            idx = order[s:s + batch_size]
            out = model(xt[idx])
            loss = nn.functional.cross_entropy(out, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
        rows.append({"epoch": epoch + 1, "loss": loss_sum / len(x),
                     "train_accuracy": correct / len(x),
                     "seconds": time.perf_counter() - start})
    conv = [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, nn.Conv2d)]
    fc = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
          for m in model if isinstance(m, nn.Linear)]
    return CNN(conv, fc, side, pd.DataFrame(rows))


# --------------------------------------------------------------------------------------------
# Unrolled connectivity
# --------------------------------------------------------------------------------------------
@dataclass
class SparseLayer:
    """One layer of IF neurons and its input synapses (pre index ``i``, post index ``j``).

    ``i`` is ``None`` for the first layer, which receives an analog current instead.
    """

    name: str
    size: int
    bias: np.ndarray
    i: np.ndarray | None = None
    j: np.ndarray | None = None
    w: np.ndarray | None = None

    @property
    def n_synapses(self) -> int:
        return 0 if self.i is None else len(self.i)


def conv_synapses(kernel, side: int):
    """A 3x3, padding-1 convolution of a ``side x side`` map as explicit synapses.

    Neuron ``c * side**2 + y * side + x`` is channel ``c`` at row ``y``, column ``x`` (PyTorch's
    flattening). Returns ``i, j, w``: one synapse per output position, output channel, input
    channel and kernel tap that falls inside the map (zero padding drops the rest).
    """
    kernel = np.asarray(kernel)
    n_out, n_in, kh, kw = kernel.shape
    area = side * side
    ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    ii, jj, ww = [], [], []
    for dy in range(kh):
        for dx in range(kw):
            py, px = ys + dy - kh // 2, xs + dx - kw // 2
            ok = (py >= 0) & (py < side) & (px >= 0) & (px < side)
            pre_pos = (py * side + px)[ok]           # (m,)
            post_pos = (ys * side + xs)[ok]
            o, c = np.meshgrid(np.arange(n_out), np.arange(n_in), indexing="ij")
            o, c = o.ravel(), c.ravel()              # (n_out * n_in,)
            ii.append((c[:, None] * area + pre_pos[None, :]).ravel())
            jj.append((o[:, None] * area + post_pos[None, :]).ravel())
            ww.append(np.repeat(kernel[o, c, dy, dx], len(pre_pos)))
    return np.concatenate(ii), np.concatenate(jj), np.concatenate(ww).astype(np.float64)


def pool_synapses(channels: int, side: int):
    """2x2 average pooling as synapses of weight 1/4 onto a ``side/2`` map per channel."""
    half = side // 2
    c, py, px, dy, dx = np.meshgrid(np.arange(channels), np.arange(half), np.arange(half),
                                    np.arange(2), np.arange(2), indexing="ij")
    i = c * side * side + (2 * py + dy) * side + (2 * px + dx)
    j = c * half * half + py * half + px
    return i.ravel(), j.ravel(), np.full(i.size, 0.25)


def _dense(weight):
    n_in, n_out = weight.shape
    a, b = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
    return a.ravel(), b.ravel(), np.asarray(weight, np.float64)[a.ravel(), b.ravel()]


@dataclass
class ConvertedCNN:
    """The normalised CNN as layers of IF neurons with explicit synapses.

    Attributes
    ----------
    layers : list of SparseLayer
        conv1, pool1, conv2, pool2, fc1, output.
    factors : numpy.ndarray
        Normalisation factor of every layer (pools share their convolution's).
    first_current : callable
        ``images -> (n, size of conv1)``: the normalised analog input current of conv1.
    """

    layers: list
    factors: np.ndarray
    cnn: CNN
    percentile: float

    def first_current(self, x) -> np.ndarray:
        """Normalised input current of the first layer, ``(conv1(x) + b) / lambda_1``."""
        torch = _torch()
        fn = torch.nn.functional
        kernel, bias = self.cnn.conv[0]
        x = preprocess(x)
        with torch.no_grad():
            h = fn.conv2d(torch.from_numpy(x).reshape(-1, 1, self.cnn.image, self.cnn.image),
                          torch.from_numpy(kernel), torch.from_numpy(bias), padding=1)
        return h.flatten(1).numpy().astype(np.float64) / self.factors[0]

    @property
    def n_synapses(self) -> int:
        return int(sum(layer.n_synapses for layer in self.layers))


def convert_cnn(cnn: CNN, x_norm, norm="99.9") -> ConvertedCNN:
    """Normalise the CNN with a percentile of every layer's positive activations on ``x_norm``
    and unroll it into :class:`SparseLayer` objects."""
    from brainlearn.models.conversion import parse_norm

    percentile = parse_norm(norm)
    acts = cnn.activations(x_norm)
    lam = {}
    for k in (0, 2, 4, 5):  # conv1, conv2, fc1, output
        positive = acts[k][acts[k] > 0]
        lam[k] = float(np.percentile(positive, percentile)) if positive.size else 1.0
    lam[1], lam[3] = lam[0], lam[2]  # a pool's rates are means of its convolution's
    factors = np.array([lam[k] for k in range(6)])
    side = cnn.image
    (k1, b1), (k2, b2) = cnn.conv
    (w1, c1), (w2, c2) = cnn.fc
    n1, n2 = k1.shape[0], k2.shape[0]
    layers = [SparseLayer("conv1", n1 * side * side,
                          np.repeat(b1 / lam[0], side * side).astype(np.float64))]
    i, j, w = pool_synapses(n1, side)
    layers.append(SparseLayer("pool1", n1 * (side // 2) ** 2, np.zeros(n1 * (side // 2) ** 2),
                              i, j, w))
    i, j, w = conv_synapses(k2, side // 2)
    layers.append(SparseLayer("conv2", n2 * (side // 2) ** 2,
                              np.repeat(b2 / lam[2], (side // 2) ** 2).astype(np.float64),
                              i, j, w * lam[1] / lam[2]))
    i, j, w = pool_synapses(n2, side // 2)
    layers.append(SparseLayer("pool2", n2 * (side // 4) ** 2, np.zeros(n2 * (side // 4) ** 2),
                              i, j, w))
    i, j, w = _dense(w1)
    layers.append(SparseLayer("fc1", w1.shape[1], c1 / lam[4], i, j, w * lam[3] / lam[4]))
    i, j, w = _dense(w2)
    layers.append(SparseLayer("output", w2.shape[1], c2 / lam[5], i, j, w * lam[4] / lam[5]))
    return ConvertedCNN(layers, factors, cnn, percentile)


# --------------------------------------------------------------------------------------------
# Brian2
# --------------------------------------------------------------------------------------------
def simulate_cnn(converted: ConvertedCNN, images, *, steps=(16, 32, 64), reset: str = "subtract",
                 device: str = "runtime", lanes: int | None = None, max_synapses: float = 5e6,
                 directory=None) -> dict:
    """Run the converted CNN on ``images`` in one Brian2 simulation.

    Every example lasts ``max(steps)`` steps of 1 ms; membranes and counts are reset at its
    start; ``lanes`` copies run side by side (default: as many as ``max_synapses`` allows).

    Returns
    -------
    dict
        ``out_counts`` ``(len(steps), n, n_classes)``, ``spikes`` (all IF spikes per example
        over ``max(steps)`` steps), ``steps``, ``lanes``, ``synapses`` (per copy) and
        ``run_seconds`` (the simulation alone where the device reports it, else the whole
        ``run`` call).
    """
    from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, TimedArray, ms

    from brainlearn.neurons import IFNeuron

    steps = tuple(sorted({int(s) for s in steps}))
    x = preprocess(images)
    n = len(x)
    model = IFNeuron(reset_mode=reset, step=1 * ms)
    step = model.step
    n_lanes = lane_count(converted.n_synapses, n, max_synapses, lanes)
    n_slots = math.ceil(n / n_lanes)
    t_max = steps[-1]
    record_every = math.gcd(*steps)
    period = t_max * step
    current = np.zeros((n_lanes * n_slots, converted.layers[0].size))
    current[:n] = converted.first_current(x)
    current = current.reshape(n_slots, n_lanes * converted.layers[0].size)
    start = time.perf_counter()
    with lane_runner(device, directory) as run:
        net = Network()
        groups, monitors = [], []
        for k, layer in enumerate(converted.layers):
            namespace = model.namespace()
            if k == 0:
                namespace["current"] = TimedArray(current, dt=period)
            group = NeuronGroup(n_lanes * layer.size, model.equations() + "count : 1",
                                threshold=model.threshold(), reset=model.reset() + "\ncount += 1",
                                method="euler", dt=step, namespace=namespace, name=layer.name)
            if k == 0:
                group.run_regularly("v = 0\ncount = 0\nbias = current(t, i)", dt=period,
                                    when="start", order=1)
            else:
                group.bias = np.tile(layer.bias, n_lanes)
                group.run_regularly("v = 0\ncount = 0", dt=period, when="start", order=1)
                syn = Synapses(groups[-1], group, "w : 1", on_pre="v_post += w", dt=step,
                               name=f"{layer.name}_in")
                lane = np.repeat(np.arange(n_lanes), layer.n_synapses)
                pre_size = converted.layers[k - 1].size
                syn.connect(i=lane * pre_size + np.tile(layer.i, n_lanes),
                            j=lane * layer.size + np.tile(layer.j, n_lanes))
                syn.w = np.tile(layer.w, n_lanes)
                net.add(syn)
            groups.append(group)
            monitors.append(SpikeMonitor(group, record=False))
            net.add(group)
        out = StateMonitor(groups[-1], "count", record=True, dt=record_every * step, when="start",
                           order=-1)
        net.add(out, *monitors)
        run(net, (n_slots * t_max + 1) * step)
        from brian2 import get_device

        seconds = getattr(get_device(), "_last_run_time", None)
        counts = read_lanes(out, "count", converted.layers[-1].size, lanes=n_lanes, n=n,
                            n_slots=n_slots, t_max=t_max, record_every=record_every,
                            steps=steps)
        spikes = float(sum(int(m.num_spikes) for m in monitors))
    wall = time.perf_counter() - start
    return {"out_counts": counts, "spikes": spikes / n, "steps": steps, "lanes": n_lanes,
            "synapses": converted.n_synapses,
            "run_seconds": float(seconds) if seconds else wall, "wall_seconds": wall}


def evaluate_cnn(cnn: CNN, images, labels, x_norm, *, steps=(16, 32, 64), norm="99.9",
                 device: str = "runtime", lanes: int | None = None, chunk: int = 500,
                 directory=None, progress: bool = False) -> pd.DataFrame:
    """Accuracy of the converted CNN at every ``T`` in ``steps`` beside the ANN's.

    The test images run ``chunk`` at a time (one Brian2 run each: the analog input current
    of ``chunk`` images, ``chunk x 25088`` values, is held in memory).

    Returns
    -------
    pandas.DataFrame
        ``steps, accuracy, ann_accuracy, spikes_per_example`` (all IF spikes in ``max(steps)``
        steps), ``ms_per_image`` (simulation time per image, without the build),
        ``n_examples, synapses, norm``.
    """
    labels = np.asarray(labels)
    x = preprocess(images)
    conv = convert_cnn(cnn, x_norm, norm)
    counts, spikes, seconds = [], 0.0, 0.0
    starts = range(0, len(x), int(chunk))
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc="converted CNN in Brian2", unit="chunk")
    for s in starts:
        sim = simulate_cnn(conv, x[s:s + chunk], steps=steps, device=device, lanes=lanes,
                           directory=directory)
        counts.append(sim["out_counts"])
        spikes += sim["spikes"] * len(x[s:s + chunk])
        seconds += sim["run_seconds"]
    counts = np.concatenate(counts, axis=1)
    ann = cnn.score(x, labels)
    rows = []
    for k, T in enumerate(sim["steps"]):
        rows.append({"steps": T,
                     "accuracy": float(np.mean(np.argmax(counts[k], axis=1) == labels)),
                     "ann_accuracy": ann, "spikes_per_example": spikes / len(x),
                     "ms_per_image": 1000 * seconds / len(x),
                     "n_examples": len(labels), "synapses": sim["synapses"],
                     "norm": conv.percentile})
    return pd.DataFrame(rows)


def cnn_run(out, *, channels=(32, 64), hidden: int = 128, epochs: int = 3,
            batch_size: int = 64, lr: float = 1e-3, seed: int = 0, steps=(8, 16, 32, 64),
            norm="99.9", test_examples: int | None = None, norm_examples: int = 10000,
            device: str = "cpp_standalone", threads: int = 1, source: str = "full",
            progress: bool = True) -> pd.DataFrame:
    """Train the CNN, convert it and evaluate it in Brian2; write a run directory.

    Writes ``cnn.npz`` (the weights), ``train_metrics.csv``, ``results.csv`` (one row per ``T``),
    ``config.json`` (``kind`` ``"conversion_cnn"``) and ``metrics.json``. Returns the results.
    """
    from brainlearn import rundir
    from brainlearn.atomic import atomic_path, save_npz
    from brainlearn.data import load_mnist

    x, y = load_mnist("train", source=source)
    xt, yt = load_mnist("test", n=test_examples, source=source)
    x_norm, _ = load_mnist("train", n=min(norm_examples, len(x)), seed=seed, source=source)
    with rundir.new_run(out) as run:
        start = time.perf_counter()
        cnn = train_cnn(x, y, channels=channels, hidden=hidden, epochs=epochs,
                        batch_size=batch_size, lr=lr, seed=seed, threads=threads,
                        progress=progress)
        train_seconds = time.perf_counter() - start
        arrays = {f"conv{k}_kernel": w for k, (w, _) in enumerate(cnn.conv)}
        arrays.update({f"conv{k}_bias": b for k, (_, b) in enumerate(cnn.conv)})
        arrays.update({f"fc{k}_weight": w for k, (w, _) in enumerate(cnn.fc)})
        arrays.update({f"fc{k}_bias": b for k, (_, b) in enumerate(cnn.fc)})
        save_npz(run / "cnn.npz", **arrays)
        with atomic_path(run / "train_metrics.csv") as tmp:
            cnn.history.to_csv(tmp, index=False)
        rundir.write_config(run, {
            "channels": list(channels), "hidden": hidden, "epochs": epochs,
            "batch_size": batch_size, "lr": lr, "seed": seed, "norm": str(norm),
            "steps": list(steps), "device": device, "source": source,
            "train_examples": len(x), "test_examples": len(xt)}, kind="conversion_cnn")
        table = evaluate_cnn(cnn, xt, yt, x_norm, steps=steps, norm=norm, device=device,
                             directory=run / "build" if device == "cpp_standalone" else None,
                             progress=progress)
        with atomic_path(run / "results.csv") as tmp:
            table.to_csv(tmp, index=False)
        rundir.update_metrics(run, {
            "ann_accuracy": float(table["ann_accuracy"].iloc[0]),
            "snn_best_accuracy": float(table["accuracy"].max()),
            "train_seconds": round(train_seconds, 1), "parameters": cnn.n_parameters,
            "synapses": int(table["synapses"].iloc[0]),
            "ms_per_image": float(table["ms_per_image"].iloc[0]),
            "test_examples": len(xt)})
    return table
