"""A trained Diehl & Cook network, frozen, compiled once and run on any images.

:class:`FrozenNetwork` is what :class:`~brainlearn.models.diehl_cook.DiehlCookClassifier`
predicts with: the weights and thresholds of a trained run, the frozen network (no plasticity,
theta fixed) compiled on the first call, and every later call running the same binary on new
images. Every chunk of images starts from the rest state with the seed
``chunk_seed(seed, stage, k)`` (:func:`~brainlearn.models.diehl_cook.frozen_chunks`), and
every presentation from rest (the evaluation's frozen network, with its short rest,
:func:`~brainlearn.models.diehl_cook.evaluation.frozen_params`), so the counts of a set of
images depend only on those images, the run's seed and its chunk size, and equal those of
:func:`~brainlearn.models.diehl_cook.evaluate` (``start="carried"``: the paper's test
protocol, the state carried from image to image within a chunk, for comparisons).

A standalone network holds Brian2's (global) device while it is compiled. When another
standalone project takes the device (another estimator, :func:`evaluate`, any
``set_device``), the network notices on its next call and compiles again (Brian2 recompiles
only what changed, so in the same build directory that is code generation only). Two frozen
networks take turns; :meth:`FrozenNetwork.close` gives the device back.
"""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from brainlearn.models.diehl_cook.config import TrainConfig
from brainlearn.models.diehl_cook.evaluation import frozen_chunks, frozen_params, merge_chunks
from brainlearn.models.diehl_cook.model import FROZEN_START, check_frozen_start
from brainlearn.models.diehl_cook.network import CompiledNetwork, StopOnSigterm, make_sim
from brainlearn.models.diehl_cook.state import frozen_state

__all__ = ["FrozenNetwork"]

# the frozen network that compiled last and still holds Brian2's device (a weak reference)
_holder: weakref.ref | None = None


def _device_token() -> tuple:
    # identifies the standalone project now on Brian2's device: the device and its array
    # table, which a reset (``device.reinit()``) replaces
    from brian2 import get_device

    dev = get_device()
    return dev, getattr(dev, "arrays", None)


@atexit.register
def _release_at_exit() -> None:
    # give Brian2's device back before the interpreter tears its modules down
    holder = _holder() if _holder is not None else None
    if holder is not None:
        holder.close()


class FrozenNetwork:
    """The frozen network of trained weights, compiled once, that counts spikes per image.

    Parameters
    ----------
    config : TrainConfig
        The run's configuration (network size, parameters, seed, device, chunk size).
    weights : mapping
        ``weights`` ``(784, n)``, ``theta`` ``(n,)`` in volts and ``delays`` ``(784, n)`` in
        seconds (a run's ``weights.npz``).
    build_dir : path
        Directory of the build (``build_dir / build_name``).
    build_name : str
        The build folder; ``build_eval`` (default) shares the binary of ``brainlearn mnist
        evaluate`` in the same run directory.
    start : str
        How the presentations start (:data:`~brainlearn.models.diehl_cook.model.FROZEN_STARTS`):
        ``"rest"`` (default, every presentation from rest) or ``"carried"`` (the paper's
        test protocol, for comparisons).
    """

    def __init__(self, config: TrainConfig, weights: Mapping[str, np.ndarray],
                 build_dir: str | Path, build_name: str = "build_eval",
                 start: str = FROZEN_START) -> None:
        self.config = config
        self.start = check_frozen_start(start)
        self.params = frozen_params(config.params(), start)
        self.weights = {k: np.asarray(weights[k]) for k in ("weights", "theta", "delays")}
        self.build_dir = Path(build_dir)
        self.build_name = build_name
        self.builds = 0  # how many times the network was compiled (code generated)
        self._net: CompiledNetwork | None = None
        self._token: tuple | None = None

    def use_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Count with other trained weights and thresholds of the same run (same delays): the
        compiled network is kept, as they are inputs of every call.

        Raises ValueError if the delays differ (they are compiled into the network).
        """
        new = {k: np.asarray(weights[k]) for k in ("weights", "theta", "delays")}
        if not np.array_equal(new["delays"], self.weights["delays"]):
            raise ValueError("use_weights needs the delays this network was built with "
                             "(weights of another run?)")
        self.weights = new

    def _intact(self) -> bool:
        # whether the compiled project is still the one on Brian2's device
        if self._net is None:
            return False
        if not self._net.sim.standalone:
            return True  # runtime mode builds its objects per chunk
        token = _device_token()
        return token[0] is self._token[0] and token[1] is self._token[1]

    def network(self) -> CompiledNetwork:
        """The compiled network: compiled on first use, again only if another project took
        Brian2's device since."""
        global _holder
        if self._intact():
            return self._net
        if self._net is not None:  # another project owns the device now: do not reset it
            self._net.sim.detach()
            self._net = None
        other = _holder() if _holder is not None else None
        if other is not None and other is not self and other._intact():
            other.close()  # give the device back properly before taking it
        self._net = make_sim(self.config, self.params, self.build_dir, False,
                             self.weights["delays"], self.build_name, frozen_start=self.start)
        self._token = _device_token()
        self.builds += 1
        _holder = weakref.ref(self)
        return self._net

    def counts(self, pixels: np.ndarray, stage: str = "test", progress: bool = False,
               desc: str = "predict") -> np.ndarray:
        """Spike counts ``(n_images, n_neurons)`` of the input window of each image's last
        presentation (the counts the vote reads).

        Parameters
        ----------
        pixels : ndarray
            Pixel rows ``(n_images, 784)``, values 0-255 (MNIST's scale: white digit on black).
        stage : str
            ``"assign"`` or ``"test"``: which chunk seeds (:func:`chunk_seed`) the runs use.
        progress : bool
            Show a progress bar.
        """
        pixels = np.asarray(pixels, dtype=np.float64)
        n = len(pixels)
        net = self.network()
        state = frozen_state(self.config, self.params, self.weights)
        chunks = range(-(-n // net.table_size))
        with tqdm(total=n, unit="img", desc=desc, disable=not progress,
                  dynamic_ncols=True) as bar, StopOnSigterm():
            parts = frozen_chunks(net, pixels, state, n, stage, self.config.seed, chunks, bar)
        return merge_chunks(parts).counts

    def close(self) -> None:
        """Give Brian2's device back (if this network still holds it); the next call
        compiles again."""
        global _holder
        if self._net is not None:
            if self._intact():
                self._net.close()
            else:
                self._net.sim.detach()
        self._net = None
        if _holder is not None and _holder() is self:
            _holder = None

    def __enter__(self) -> FrozenNetwork:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
