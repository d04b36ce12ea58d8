"""Brian2 device selection (runtime, cpp_standalone, cuda_standalone) and in-network control."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from brian2 import Function, device, prefs, set_device

__all__ = ["DEVICES", "select_device", "reset_device", "stop_network", "make_stop_network",
           "require_brian2cuda"]

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
        require_brian2cuda()
    prefs.devices.cpp_standalone.openmp_threads = int(threads or 0)
    # Brian2's default is an unbounded `make -j`: dozens of compilers at once exhaust memory
    prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{min(os.cpu_count() or 2, 8)}"]
    set_device(name, directory=str(directory), build_on_run=False)


def require_brian2cuda() -> None:
    """Raise a ``RuntimeError`` naming the ``cuda`` extra when brian2cuda is not installed."""
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "--device cuda_standalone needs brian2cuda: pip install 'brainlearn[cuda]' "
            "(and an NVIDIA GPU with the CUDA toolkit)"
        ) from None


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


_STOP_FLAG = """
static inline double stop_network(bool cond)
{
    if (cond) Network::_globally_stopped = true;
    return 0.0;
}
"""


def _stop_clocks_code(owner) -> str:
    # Brian2 < 2.9 has no Network::_globally_stopped: push every clock of the device's networks
    # past its end, so Network::run finishes the current time step and leaves its loop (the
    # point at which 2.9 stops). Generated at build time, when the networks are known.
    from brian2 import get_device

    loops = "".join(
        f"        for (size_t _k = 0; _k < brian::{net.name}.objects.size(); _k++)\n"
        f"            brian::{net.name}.objects[_k].first->timestep[0] = ((int64_t)1) << 60;\n"
        for net in sorted(get_device().networks, key=lambda net: net.name)
    )
    return (
        "static inline double stop_network(bool cond)\n{\n    if (cond)\n    {\n"
        + loops
        + "    }\n    return 0.0;\n}\n"
    )


def _brian2_has_stop_flag() -> bool:
    from brian2 import __version__
    from packaging.version import Version

    return Version(__version__) >= Version("2.9")


def make_stop_network(method: str = "auto") -> Function:
    """The ``stop_network(cond)`` function for generated code.

    It ends the current run at the end of the time step in which ``cond`` holds: in-network
    control, so a compiled standalone run stops itself. In runtime mode it calls
    ``brian2.stop()``.

    Parameters
    ----------
    method : str
        C++ mechanism: ``"flag"`` sets ``Network::_globally_stopped`` (Brian2 >= 2.9),
        ``"clocks"`` pushes the network's clocks past their end (works with Brian2 2.8, the
        version the ``cuda`` extra's brian2cuda pins), ``"auto"`` picks by the installed
        Brian2 version.

    Returns
    -------
    brian2.Function
    """
    if method == "auto":
        method = "flag" if _brian2_has_stop_flag() else "clocks"
    if method not in ("flag", "clocks"):
        raise ValueError(f"method must be 'auto', 'flag' or 'clocks', got {method!r}")
    func = Function(
        _stop_python, arg_units=[1], return_unit=1, arg_types=["boolean"], return_type="float"
    )
    if method == "flag":
        func.implementations.add_implementation(
            "cpp", _STOP_FLAG, name="stop_network", compiler_kwds={"headers": ['"network.h"']}
        )
    else:
        func.implementations.add_dynamic_implementation(
            "cpp", _stop_clocks_code, namespace=lambda owner: {}, name="stop_network",
            compiler_kwds={"headers": ['"objects.h"']},
        )
    return func


#: ``stop_network(cond)``: ends the current run at the end of this time step when ``cond``
#: holds (see :func:`make_stop_network`).
stop_network = make_stop_network()
