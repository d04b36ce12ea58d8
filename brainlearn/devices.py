"""Brian2 device selection (runtime, cpp_standalone, cuda_standalone) and in-network control."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from brian2 import Function, device, prefs, set_device

__all__ = ["DEVICES", "select_device", "reset_device", "stop_network"]

DEVICES = ("cpp_standalone", "runtime", "cuda_standalone")


def select_device(
    name: str,
    directory: str | os.PathLike | None = None,
    threads: int | None = None,
    runtime_target: str = "numpy",
) -> None:
    """Make ``name`` the current Brian2 device, starting from a clean state.

    Parameters
    ----------
    name : str
        ``"cpp_standalone"`` (default for long runs), ``"runtime"`` or ``"cuda_standalone"``
        (needs the ``cuda`` extra: brian2cuda, and an NVIDIA GPU with nvcc).
    directory : path, optional
        Build directory of a standalone device (one per binary; reused builds only
        recompile what changed).
    threads : int, optional
        OpenMP threads of ``cpp_standalone`` (default 0: single-threaded, no OpenMP).
    runtime_target : str
        Code generation target in runtime mode (``"numpy"`` or ``"cython"``).
    """
    if name not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {name!r}")
    reset_device()
    if name == "runtime":
        prefs.codegen.target = runtime_target
        return
    if directory is None:
        raise ValueError(f"{name} needs a build directory")
    Path(directory).mkdir(parents=True, exist_ok=True)
    if name == "cuda_standalone":
        try:
            import brian2cuda  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "--device cuda_standalone needs brian2cuda: pip install 'brainlearn[cuda]' "
                "(and an NVIDIA GPU with the CUDA toolkit)"
            ) from None
    prefs.devices.cpp_standalone.openmp_threads = int(threads or 0)
    # Brian2's default is an unbounded `make -j`: dozens of compilers at once exhaust memory
    prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{min(os.cpu_count() or 2, 8)}"]
    set_device(name, directory=str(directory), build_on_run=False)


def reset_device() -> None:
    """Forget any standalone project and return to runtime mode."""
    device.reinit()
    device.activate()
    set_device("runtime")
    prefs.devices.cpp_standalone.openmp_threads = 0


def _stop_python(cond):
    if np.any(cond):
        from brian2 import stop

        stop()
    return np.zeros_like(np.asarray(cond, dtype=float))


#: ``stop_network(cond)``: ends the current run at the end of this time step when ``cond``
#: holds (in-network control: a compiled standalone run stops itself).
stop_network = Function(
    _stop_python, arg_units=[1], return_unit=1, arg_types=["boolean"], return_type="float"
)
stop_network.implementations.add_implementation(
    "cpp",
    """
static inline double stop_network(bool cond)
{
    if (cond) Network::_globally_stopped = true;
    return 0.0;
}
""",
    name="stop_network",
    compiler_kwds={"headers": ['"network.h"']},
)
