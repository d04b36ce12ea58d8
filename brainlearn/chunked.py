"""Run one network many times, in chunks, with state carried between runs.

Under ``cpp_standalone`` (or ``cuda_standalone``) the network is generated and compiled once;
every chunk is one execution of the same binary with new initial values passed through
Brian2's ``run_args`` (weights, thresholds, the chunk's pixel table, the random seed), so a
long job checkpoints between chunks without recompiling. In runtime mode the network is
rebuilt for every chunk and the same values are set directly: both modes see the same
sequence of states.

The inputs of every execution are written atomically and checked against their values, the
program ends when its Python process dies, and a program that reports an unreadable input
fails the chunk (:mod:`brainlearn.standalone`).

A standalone simulation holds Brian2's device from its construction until :meth:`close`
(or the end of its ``with`` block), through :func:`brainlearn.devices.use_device`, so the
caller never resets the device itself: a failed build, or any error while it is open,
leaves Brian2 in runtime mode.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from brian2 import Quantity, device, second, seed

from brainlearn.devices import STOPS_ITSELF, build, use_device
from brainlearn.standalone import (
    PARENT_DEATH_HEADERS,
    parent_death_code,
    run_standalone,
    sweep_temporary,
)

__all__ = ["ChunkedSimulation"]


class ChunkedSimulation:
    """A network that runs in chunks, each starting from a given state.

    Parameters
    ----------
    build : callable
        ``build() -> dict`` creating the Brian2 objects on the current device; the dict
        holds ``network``, ``table`` (a TimedArray) and ``controller`` (a group with a
        ``seed`` variable); state keys ``"object.variable"`` name an entry of the dict or
        an object of the network by its Brian2 name.
    duration : Quantity
        Simulated time of one chunk (the network may stop itself earlier).
    device_name : str
        ``cpp_standalone``, ``runtime`` or ``cuda_standalone``.
    directory : path
        Build directory (standalone devices).
    threads : int, optional
        OpenMP threads (``cpp_standalone``).
    profile : bool
        Run with Brian2's profiling (``Network.run(..., profile=True)``); read it after a
        chunk with :meth:`profiling_info`.

    Examples
    --------
    >>> with ChunkedSimulation(build, 10 * second, "cpp_standalone", "build") as sim:  # doctest: +SKIP
    ...     out = sim.run(state, table, seed_value=1)
    """

    def __init__(
        self,
        build: Callable[[], dict],
        duration: Quantity,
        device_name: str = "cpp_standalone",
        directory: str | Path | None = None,
        threads: int | None = None,
        profile: bool = False,
    ) -> None:
        self.build = build
        self.profile = bool(profile)
        self.duration = duration
        self.device_name = device_name
        self.directory = Path(directory) if directory is not None else None
        self.threads = threads
        self.objects: dict | None = None
        #: whether a run can end itself before ``duration`` (see ``devices.STOPS_ITSELF``)
        self.stops_itself = STOPS_ITSELF[device_name]
        self.compile_seconds = 0.0
        self._device = contextlib.ExitStack()
        if self.standalone:
            self._compile()

    def close(self) -> None:
        """Give Brian2's device back (runtime mode, preferences restored)."""
        self._device.close()

    def detach(self) -> None:
        """Forget the hold on Brian2's device without resetting it.

        For a simulation whose standalone project was replaced by another one (that other
        project now owns the device; closing this one would reset it). The simulation cannot
        run any more.
        """
        self._device.pop_all()
        self.objects = None

    def __enter__(self) -> ChunkedSimulation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def standalone(self) -> bool:
        """Whether chunks run as executions of one compiled binary."""
        return self.device_name != "runtime"

    def _compile(self) -> None:
        start = time.perf_counter()
        self._device.enter_context(
            use_device(self.device_name, self.directory / "build", self.threads)
        )
        try:
            # Brian2 names objects after the live ones (``neurongroup_1``, ``syn_pre_codeobject_1``
            # while an earlier build's objects wait for the garbage collector): collect them
            # once before the build, so the same network generates the same files, make keeps
            # the objects it has and the compiler cache finds the rest
            gc.collect()
            self.objects = self.build()
            device.apply_run_args()
            seed_array = device.get_array_name(self.objects["controller"].variables["seed"])
            device.insert_code("main", self._seed_code(f"brian::{seed_array}[0]"))
            if self.device_name == "cpp_standalone":
                # a program whose Python process was killed ends too (and stops writing)
                device.headers.extend(h for h in PARENT_DEATH_HEADERS if h not in device.headers)
                device.insert_code("before_start", parent_death_code())
            sweep_temporary(self.directory / "build" / "static_arrays")
            self.objects["network"].run(self.duration, report=None, profile=self.profile)
            build(self.directory / "build", run=False)
        except BaseException:
            # a failed build must not leave the standalone device active for the caller
            self.close()
            raise
        self.compile_seconds = time.perf_counter() - start

    def _seed_code(self, value: str) -> str:
        # C++ that seeds the device's random numbers from ``value`` (read after run_args)
        if self.device_name == "cuda_standalone":
            # brian2cuda: one seed for cuRAND's host and device APIs
            return f"random_number_buffer.set_seed((unsigned long long)({value}));"
        n_gen = max(int(self.threads or 0), 1)
        return (f"for (int _i = 0; _i < {n_gen}; _i++) brian::_random_generators[_i]"
                f".seed((unsigned long)({value}) + _i);")

    def run(self, state: dict[str, np.ndarray], table: np.ndarray, seed_value: int) -> dict:
        """Run one chunk.

        Parameters
        ----------
        state : dict
            Initial values by ``"object.variable"`` (SI values without units).
        table : ndarray
            Pixel table of the chunk (same shape every chunk).
        seed_value : int
            Seed of the chunk's random numbers.

        Returns
        -------
        dict
            The objects (read their results with ``obj.var_[:]``), plus ``"end_time"`` in
            seconds (the time the chunk stopped at) and ``"wall_seconds"``.
        """
        start = time.perf_counter()
        if self.standalone:
            objs = self.objects
            run_args = {objs["table"]: np.asarray(table, dtype=float)}
            run_args[objs["controller"].seed] = float(seed_value)
            for key, value in state.items():
                view = self._view(objs, key)
                run_args[view] = Quantity(np.asarray(value, dtype=float), dim=view.dim)
            # inputs written whole and checked; a read error fails the chunk
            run_standalone(self.directory / "build", run_args)
        else:
            self.close()  # a fresh runtime device for every chunk, reset by close()
            self._device.enter_context(use_device("runtime"))
            objs = self.objects = self.build()
            objs["table"].values[:] = np.asarray(table, dtype=float)
            for key, value in state.items():
                view = self._view(objs, key)
                view[:] = Quantity(np.asarray(value, dtype=float), dim=view.dim)
            seed(int(seed_value))
            objs["network"].run(self.duration, report=None, profile=self.profile)
        result = dict(objs)
        result["end_time"] = float(objs["network"].t / second)
        result["wall_seconds"] = time.perf_counter() - start
        return result

    def profiling_info(self) -> dict[str, float]:
        """Seconds per code object in the last chunk (``profile=True`` only).

        Brian2's own profile (``Network.profiling_info``): the time spent in each generated
        code object (state updaters, thresholds, resets, synaptic pathways, monitors) during
        the last :meth:`run`.
        """
        if not self.profile:
            raise RuntimeError("profiling_info needs ChunkedSimulation(..., profile=True)")
        if self.objects is None:
            return {}
        return {name: float(t / second) for name, t in self.objects["network"].profiling_info}

    @staticmethod
    def _view(objs: dict, key: str):
        name, var = key.split(".")
        owner = objs[name] if name in objs else objs["network"][name]
        return getattr(owner, var)
