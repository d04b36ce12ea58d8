"""Training by backpropagation through time with surrogate gradients (PyTorch).

The neuron is :class:`brainlearn.neurons.DiscreteLIF` (snnTorch's ``Leaky``)::

    U[t] = beta * U[t-1] + W x[t] + b - threshold * S[t-1]     (S[t-1] detached: no gradient)
    S[t] = H(U[t] - threshold)

or :class:`brainlearn.neurons.SpikingJellyLIF` (SpikingJelly's ``LIFNode``), both through the
one scan :func:`brainlearn.models.surrogate.lif.lif_scan`. The Heaviside ``H`` passes a
smooth surrogate derivative backwards (:class:`~brainlearn.models.surrogate.gradients
.Surrogate`; E. O. Neftci, H. Mostafa, F. Zenke 2019, IEEE Signal Process. Mag. 36:51). The
loss is one of :data:`LOSSES`: ``"membrane_ce"`` (cross-entropy on the output membrane at every
step, summed over steps: the snnTorch tutorial 5 recipe), ``"count_ce"`` (cross-entropy on
output spike counts) or ``"rate_mse"`` (mean squared error between output firing rates and the
one-hot label), minimised by Adam.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.lanes import preprocess
from brainlearn.models.surrogate.gradients import Surrogate, require_torch
from brainlearn.models.surrogate.lif import NEURONS
from brainlearn.models.surrogate.network import ENCODERS, SpikingMLP, decode
from brainlearn.models.surrogate.torch_net import encode, forward, network_pass
from brainlearn.neurons import DiscreteLIF, SpikingJellyLIF

__all__ = ["LOSSES", "train"]

LOSSES = ("membrane_ce", "count_ce", "rate_mse")


def train(x, labels, *, hidden=(1000,), beta: float = 0.95, threshold: float = 1.0,
          steps: int = 25, surrogate: str | Surrogate = "atan", loss: str = "membrane_ce",
          lr: float = 5e-4, batch_size: int = 128, epochs: int = 1, drop_last: bool = True,
          seed: int = 0, threads: int | None = 2, device: str = "cpu",
          progress: bool = False, neuron: str = "snntorch", tau: float = 2.0,
          decay_input: bool = True, reset: str | None = None, detach_reset: bool | None = None,
          encoder: str = "static", bias: bool = True, test=None, test_seed: int = 0,
          checkpoint=None, on_epoch=None, check_range: bool = True) -> SpikingMLP:
    """Train a feed-forward LIF network by backpropagation through time with surrogate gradients.

    Parameters
    ----------
    x : array_like
        Inputs, uint8 images or ``(n, n_pixels)`` floats in ``[0, 1]``; each is the constant
        input of the first layer for ``steps`` steps (``encoder="static"``) or the spike
        probability of every pixel at every step (``encoder="poisson"``).
    labels : array_like
        Integer classes ``(n,)``.
    hidden : sequence of int
        Hidden layer sizes (default one of 1000: 784-1000-10 on MNIST; empty for 784-10).
    beta, threshold : float
        Membrane decay per step (snnTorch neuron) and threshold.
    steps : int
        Time steps per example.
    surrogate : str or Surrogate
        ``"atan"`` (default), ``"fast_sigmoid"``, ``"rectangular"``, ``"sigmoid"``, or a
        :class:`Surrogate`.
    loss : {"membrane_ce", "count_ce", "rate_mse"}
        See the module docstring.
    lr, batch_size, epochs : float, int, int
        Adam learning rate (betas 0.9, 0.999), minibatch size, passes over the data.
    drop_last : bool
        Skip the last incomplete batch of every epoch (as the tutorials' ``DataLoader``).
    seed : int
        Seed of the initialisation (PyTorch's default ``Linear`` init), the batch order and
        the training spikes (``bernoulli_steps`` with seed ``(seed, epoch)``).
    threads : int, optional
        ``torch.set_num_threads`` during training (restored afterwards); ``None`` leaves it.
    device : str
        PyTorch device (``"cpu"``; ``"cuda"`` where a GPU is available).
    progress : bool
        Show a tqdm progress bar over batches and a line per epoch.
    neuron : {"snntorch", "spikingjelly"}
        :class:`~brainlearn.neurons.DiscreteLIF` (reset by subtraction, detached, the
        snnTorch path, unchanged) or :class:`~brainlearn.neurons.SpikingJellyLIF` (through
        :func:`lif_scan`).
    tau, decay_input, reset, detach_reset
        The SpikingJelly neuron (defaults ``2``, ``True``, ``"zero"``, ``False`` as
        SpikingJelly's ``LIFNode``).
    encoder : {"static", "poisson"}
        Input of the first layer.
    bias : bool
        Give the layers biases.
    test : tuple, optional
        ``(images, labels)``: the test accuracy after every epoch goes into ``history``.
    test_seed : int
        Seed of the test set's input spikes (as :func:`forward`'s ``seed``).
    checkpoint : path, optional
        After every epoch save the parameters, optimiser and generator states there
        (atomically); if the file exists, training resumes after its last epoch (with the
        same settings).
    on_epoch : callable, optional
        Called with the history ``DataFrame`` after every epoch.
    check_range : bool
        Refuse float inputs outside ``[0, 1]`` (a guard against 0-255 pixels given as
        floats). With ``encoder="static"`` any real input is a valid current; the
        scikit-learn estimator turns the guard off there.

    Returns
    -------
    SpikingMLP
        The trained network; ``history`` has ``epoch, loss, train_accuracy, seconds`` (wall
        time of the epoch) and ``test_accuracy``, ``test_accuracy_first`` (ties to the lowest
        class) with ``test``.
    """
    torch = require_torch()
    surrogate = surrogate if isinstance(surrogate, Surrogate) else Surrogate(surrogate)
    x, labels = _checked_data(x, labels, check_range or encoder != "static")
    hidden = tuple(int(h) for h in hidden)
    beta, reset, detach_reset = _checked_neuron(
        hidden=hidden, beta=beta, threshold=threshold, loss=loss, neuron=neuron, tau=tau,
        decay_input=decay_input, reset=reset, detach_reset=detach_reset, encoder=encoder)
    steps, batch_size, epochs = int(steps), int(batch_size), int(epochs)
    if steps < 1 or batch_size < 1 or epochs < 1:
        raise ValueError(f"steps, batch_size and epochs must be positive, got "
                         f"{steps}, {batch_size}, {epochs}")
    sizes = (x.shape[1], *hidden, max(int(labels.max()) + 1, 2))
    config = {"hidden": list(hidden), "beta": beta, "threshold": threshold, "steps": steps,
              "surrogate": surrogate.name, "surrogate_scale": surrogate.scale, "loss": loss,
              "lr": lr, "batch_size": batch_size, "epochs": epochs, "drop_last": drop_last,
              "seed": seed, "train_examples": len(x)}
    kind = _network_kind(config, neuron=neuron, encoder=encoder, bias=bias, tau=tau,
                         decay_input=decay_input, reset=reset, detach_reset=detach_reset)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        torch.manual_seed(seed)
        layers = torch.nn.ModuleList(
            torch.nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ).to(device)
        state = _Loop(torch, layers, torch.optim.Adam(layers.parameters(), lr=lr,
                                                      betas=(0.9, 0.999)),
                      np.random.default_rng(seed), x, labels, device, config, kind,
                      (float(beta), float(threshold), steps, surrogate), batch_size,
                      drop_last, encoder, loss, seed)
        rows = state.resume(checkpoint)
        state.run(rows, epochs, test=test, test_seed=test_seed, progress=progress,
                  checkpoint=checkpoint, on_epoch=on_epoch)
        net = state.snapshot(rows)
    finally:
        torch.set_num_threads(old_threads)
    return net


def _network_kind(config: dict, *, neuron, encoder, bias, tau, decay_input, reset,
                  detach_reset) -> dict:
    """The :class:`SpikingMLP` settings of the network; the non-default ones go into
    ``config`` too (the snnTorch tutorial's run keeps the config it always had)."""
    kind = dict(neuron_kind=neuron, encoder=encoder, bias=bool(bias))
    if neuron != "snntorch" or encoder != "static" or not bias:
        config.update(neuron=neuron, encoder=encoder, bias=bias)
    if neuron == "spikingjelly":
        extra = dict(tau=float(tau), decay_input=bool(decay_input), reset=reset,
                     detach_reset=detach_reset)
        config.update(extra)
        kind.update(extra)
    return kind


def _checked_data(x, labels, check_range: bool = True) -> tuple[np.ndarray, np.ndarray]:
    x = preprocess(x) if check_range else np.asarray(x, np.float32).reshape(len(x), -1)
    labels = np.asarray(labels).astype(np.int64)
    if len(x) != len(labels) or len(x) == 0:
        raise ValueError(f"x and labels must be non-empty and equally long, "
                         f"got {len(x)} and {len(labels)}")
    return x, labels


def _checked_neuron(*, hidden, beta, threshold, loss, neuron, tau, decay_input, reset,
                    detach_reset, encoder) -> tuple[float, str | None, bool | None]:
    """Check the network settings; ``beta``, ``reset`` and ``detach_reset`` as trained."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if neuron not in NEURONS:
        raise ValueError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
    if min(hidden, default=1) < 1:
        raise ValueError(f"hidden must list positive layer sizes, got {hidden!r}")
    if neuron == "snntorch":
        if reset not in (None, "subtract") or detach_reset not in (None, True):
            raise ValueError("the snntorch neuron resets by subtraction, detached; use "
                             "neuron='spikingjelly' for other resets")
        DiscreteLIF(beta=beta, v_thresh=threshold)  # checks beta and threshold
        return beta, reset, detach_reset
    reset = "zero" if reset is None else reset
    cell = SpikingJellyLIF(tau=tau, decay_input=decay_input, v_thresh=threshold,
                           reset_mode=reset)
    return cell.beta, reset, bool(detach_reset)


def _loss(torch, kind: str, out_mem, out_spk, targets):
    functional = torch.nn.functional
    if kind == "membrane_ce":
        return sum(functional.cross_entropy(m, targets) for m in out_mem)
    if kind == "count_ce":
        return functional.cross_entropy(out_spk.sum(dim=0), targets)
    onehot = functional.one_hot(targets, out_spk.shape[-1]).to(out_spk.dtype)
    return functional.mse_loss(out_spk.mean(dim=0), onehot)



@dataclass
class _Loop:
    """The state of one training: layers, optimiser, batch order generator, data, settings."""

    torch: object
    layers: object
    optimizer: object
    rng: np.random.Generator
    x: np.ndarray
    labels: np.ndarray
    device: str
    config: dict
    kind: dict
    neuron: tuple  # beta, threshold, steps, surrogate
    batch_size: int
    drop_last: bool
    encoder: str
    loss: str
    seed: int

    def snapshot(self, history) -> SpikingMLP:
        """The network as it is now, with ``history`` (rows per epoch)."""
        weights = [layer.weight.detach().cpu().numpy().T.copy() for layer in self.layers]
        biases = [layer.bias.detach().cpu().numpy().copy() if self.kind["bias"] else
                  np.zeros(layer.out_features, np.float32) for layer in self.layers]
        return SpikingMLP(weights, biases, *self.neuron, pd.DataFrame(history), self.config,
                          **self.kind)

    def resume(self, checkpoint) -> list[dict]:
        """Load the checkpoint's state if there is one; the rows of its finished epochs."""
        if checkpoint is None or not Path(checkpoint).is_file():
            return []
        torch = self.torch
        state = torch.load(checkpoint, map_location=self.device, weights_only=False)
        saved = {k: v for k, v in state["config"].items() if k != "epochs"}
        if saved != {k: v for k, v in self.config.items() if k != "epochs"}:
            raise ValueError(f"the checkpoint {checkpoint} was written with other settings; "
                             "remove it or train into a new directory")
        self.layers.load_state_dict(state["layers"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        return state["rows"]

    def n_batches(self) -> int:
        n, size = len(self.x), self.batch_size
        return n // size if self.drop_last and n >= size else math.ceil(n / size)

    def run(self, rows: list, epochs: int, *, test, test_seed, progress, checkpoint,
            on_epoch) -> None:
        """Train the epochs after those in ``rows``, appending a row per epoch."""
        first_epoch, n_batches = len(rows), self.n_batches()
        bar = None
        if progress and first_epoch < epochs:
            from tqdm import tqdm
            bar = tqdm(total=(epochs - first_epoch) * n_batches, desc="surrogate BPTT",
                       unit="batch")
        template = self.snapshot([])
        data = (self.torch.from_numpy(self.x).to(self.device),
                self.torch.from_numpy(self.labels).to(self.device))
        for epoch in range(first_epoch, epochs):
            row = self.epoch(epoch, n_batches, template, data, bar)
            if test is not None:
                act = forward(self.snapshot(rows), test[0], seed=test_seed, threads=None)
                test_labels = np.asarray(test[1])
                row["test_accuracy"] = float(np.mean(act.predict() == test_labels))
                row["test_accuracy_first"] = float(np.mean(np.argmax(act.counts, axis=1)
                                                           == test_labels))
            rows.append(row)
            if progress:
                shown = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch")
                (bar.write if bar is not None else print)(f"epoch {epoch + 1}: {shown}")
            if checkpoint is not None:
                self.save_checkpoint(checkpoint, rows)
            if on_epoch is not None:
                on_epoch(pd.DataFrame(rows))
        if bar is not None:
            bar.close()

    def epoch(self, epoch: int, n_batches: int, template: SpikingMLP, data, bar) -> dict:
        """One pass over the data (``data``: images and labels as tensors) in a fresh random
        order: its row of the history."""
        torch = self.torch
        start = time.perf_counter()
        xt, yt = data
        order = self.rng.permutation(len(self.x))
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(n_batches):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if self.encoder == "static":
                inputs = xt[idx]
            else:
                inputs = encode(torch, self.x[idx], self.encoder, template.steps,
                                (self.seed, epoch + 1), idx, torch.float32, self.device)
            out_mem, out_spk, _ = network_pass(torch, self.layers, inputs, template)
            value = _loss(torch, self.loss, out_mem, out_spk, yt[idx])
            self.optimizer.zero_grad()
            value.backward()
            self.optimizer.step()
            loss_value = float(value.detach())
            loss_sum += loss_value * len(idx)
            pred = decode(out_spk.detach().sum(0).cpu().numpy(),
                          out_mem.detach().sum(0).cpu().numpy())
            correct += int((pred == self.labels[idx]).sum())
            seen += len(idx)
            if bar is not None:
                bar.update()
                bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{correct / seen:.3f}")
        return {"epoch": epoch + 1, "loss": loss_sum / seen, "train_accuracy": correct / seen,
                "seconds": time.perf_counter() - start}

    def save_checkpoint(self, checkpoint, rows: list) -> None:
        """Parameters, optimiser and generator states and the history, atomically."""
        from brainlearn.atomic import atomic_path

        torch = self.torch
        with atomic_path(checkpoint) as tmp:
            torch.save({"config": self.config, "layers": self.layers.state_dict(),
                        "optimizer": self.optimizer.state_dict(),
                        "rng": self.rng.bit_generator.state,
                        "torch_rng": torch.get_rng_state(), "rows": rows}, tmp)
