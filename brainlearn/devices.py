"""Brian2 device selection (runtime, cpp_standalone, cuda_standalone) and in-network control.

Brian2's device is global state. :func:`use_device` is the one way brainlearn switches it:
a context manager that selects the device (build directory, OpenMP threads, a bounded
``make -j``), and on exit, also when the block raises, forgets the standalone project,
returns to runtime mode and restores the preferences it changed. :func:`build` compiles
(and optionally runs) the current standalone project and says so first, since a first build
takes a minute.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from brian2 import Function, device, get_device, prefs, set_device

from brainlearn.standalone import (
    atomic_static_arrays,
    compile_error,
    remove_broken_objects,
    stable_main_order,
)

__all__ = ["DEVICES", "SPIKE_QUEUE", "use_fast_spike_queue", "use_device", "build",
           "select_device", "reset_device", "stop_network", "make_stop_network",
           "brian2_has_stop_flag", "require_brian2cuda", "STOPS_ITSELF", "nvcc_version",
           "compiler_cache_args", "compile_lock_command"]

DEVICES = ("cpp_standalone", "runtime", "cuda_standalone")

#: preferences :func:`use_device` sets and restores
_PREFS = ("codegen.target", "devices.cpp_standalone.openmp_threads",
          "devices.cpp_standalone.extra_make_args_unix", "codegen.cpp.extra_compile_args_gcc",
          "devices.cpp_standalone.run_cmd_unix", "devices.cpp_standalone.make_cmd_unix")

#: marker file in a build folder while a compile is under way (left behind when it is killed)
COMPILING = ".brainlearn-compiling"


@contextlib.contextmanager
def use_device(
    name: str = "runtime",
    directory: str | os.PathLike | None = None,
    threads: int | None = None,
    runtime_target: str = "numpy",
) -> Iterator:
    """Select Brian2's device for the ``with`` block; reset it on exit and on error.

    Parameters
    ----------
    name : str
        ``"runtime"``, ``"cpp_standalone"`` or ``"cuda_standalone"`` (the ``cuda`` extra).
    directory : path, optional
        Build directory of a standalone device (default: a temporary one, removed on exit).
    threads : int, optional
        OpenMP threads of ``cpp_standalone`` (default single-threaded).
    runtime_target : str
        Code generation target in runtime mode (``"numpy"`` or ``"cython"``).

    Yields
    ------
    brian2.devices.Device
        The active device.

    Examples
    --------
    >>> with use_device("cpp_standalone", "build/net") as dev:   # doctest: +SKIP
    ...     Network(group).run(1 * second)
    ...     build(dev, "build/net", run=True)
    """
    saved = {key: prefs[key] for key in _PREFS}
    tmp = None
    if name != "runtime" and directory is None:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix=f"brainlearn_{name}_")
        directory = tmp.name
    try:
        select_device(name, directory, threads, runtime_target)
        yield get_device()
    finally:
        # A block still open when the interpreter exits (a network a worker process kept to
        # its end) is closed as the interpreter tears its modules down: there is no device
        # left to reset then, and Brian2's reset would import ("sys.meta_path is None").
        if not sys.is_finalizing():
            reset_device()
            for key, value in saved.items():
                prefs[key] = value
            if tmp is not None:
                tmp.cleanup()


def build(directory: str | os.PathLike, run: bool = False, what: str = "network") -> None:
    """Compile the current standalone project in ``directory`` (and run it if ``run``).

    Prints ``compiling <what> ...`` to stderr first: a first build takes a minute or more,
    later builds in the same directory only recompile what changed. A compile that was
    killed half-way (its marker file ``COMPILING`` is still there) may have left truncated
    object files that ``make`` would take as up to date: those are removed first
    (:func:`brainlearn.standalone.remove_broken_objects`).
    """
    from tqdm.auto import tqdm

    # tqdm.write keeps the line apart from a progress bar that is being drawn
    tqdm.write(f"compiling the {what} with Brian2 in {directory} (a first build takes a minute) ...",
               file=sys.stderr)
    marker = Path(directory) / COMPILING
    if marker.exists():
        remove_broken_objects(directory)
    Path(directory).mkdir(parents=True, exist_ok=True)
    marker.touch()
    if hasattr(device, "main_queue"):  # the same network, the same main.cpp (nothing to make)
        stable_main_order(device)
    try:
        device.build(directory=str(directory), compile=True, run=run, with_output=False)
    except RuntimeError as exc:
        raise compile_error(exc, directory, what) from None
    marker.unlink(missing_ok=True)


def select_device(
    name: str,
    directory: str | os.PathLike | None = None,
    threads: int | None = None,
    runtime_target: str = "numpy",
) -> None:
    """Make ``name`` the current Brian2 device, starting from a clean state.

    Prefer :func:`use_device`, which also resets the device when its block ends.

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
        _cuda_dialect()
    prefs.devices.cpp_standalone.openmp_threads = int(threads or 0)
    # Brian2's default is an unbounded `make -j`: dozens of compilers at once exhaust memory
    # and the compiler goes through ccache when there is one (cpp_standalone only)
    cache = compiler_cache_args() if name == "cpp_standalone" else []
    prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{min(os.cpu_count() or 2, 8)}", *cache]
    lock = compile_lock_command() if name == "cpp_standalone" else None
    if lock:
        prefs.devices.cpp_standalone.make_cmd_unix = f"{lock} make"
    set_device(name, directory=str(directory), build_on_run=False)
    if name == "cpp_standalone":
        use_fast_spike_queue(not os.environ.get("BRAINLEARN_BRIAN2_SPIKE_QUEUE"))
        atomic_static_arrays(get_device())  # no half-written input under its final name


def compiler_cache_args() -> list[str]:
    """The ``make`` arguments that compile a ``cpp_standalone`` build through ccache.

    Brian2's makefile compiles each file with ``$(CXX)``; with `ccache
    <https://ccache.dev>`_ on ``PATH`` this returns ``["CXX='ccache g++'"]`` (the compiler
    of the environment variable ``CXX`` if set, else make's default ``g++``), so a file
    compiled before with the same flags and the same preprocessed text (in any build folder:
    Brian2's makefile names files relative to it) is taken from ccache's cache instead of
    compiled again. Generated code differs between networks of different sizes or names, so
    only files that are the same hit. The environment variable ``BRAINLEARN_CCACHE=0`` turns
    it off; without ccache, or with a ``CXX`` that already starts with ``ccache``, the
    result is empty and nothing changes.

    Returns
    -------
    list of str
        Zero or one ``make`` argument (shell-quoted: Brian2 runs ``make`` through the shell).
    """
    if os.environ.get("BRAINLEARN_CCACHE", "1").strip().lower() in ("0", "no", "false", "off"):
        return []
    ccache = shutil.which("ccache")
    compiler = os.environ.get("CXX", "").strip() or "g++"
    if ccache is None or Path(compiler.split()[0]).name == "ccache":
        return []
    return [shlex.quote(f"CXX=ccache {compiler}")]


def compile_lock_command() -> str | None:
    """The ``flock`` prefix that makes builds of one network compile one at a time.

    With the environment variable ``BRAINLEARN_COMPILE_LOCK`` set to a folder (and
    util-linux's ``flock`` on ``PATH``), a ``cpp_standalone`` compile first takes the lock of
    a file in that folder named by the checksum of the build's ``objects.h`` (which declares
    every array and size of the network, and which every file of the build includes): two
    processes that build the same network then compile one after the other, and the second
    takes the first's files from ccache (:func:`compiler_cache_args`) instead of compiling
    them beside it, while different networks still compile at once. The test suite sets it
    for its workers and the commands they start (``tests/conftest.py``); unset (the default),
    nothing waits.

    Returns
    -------
    str or None
        The shell prefix for ``make`` (run by Brian2 in the build folder), or ``None`` when
        unset or ``flock`` is missing.
    """
    folder = os.environ.get("BRAINLEARN_COMPILE_LOCK", "").strip()
    if not folder or shutil.which("flock") is None:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return f"flock {shlex.quote(folder)}/\"$(cksum < objects.h | cut -d ' ' -f 1)\".lock"


def require_brian2cuda() -> None:
    """Raise a ``RuntimeError`` naming the ``cuda`` extra when brian2cuda is not installed."""
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "the cuda_standalone device needs brian2cuda: pip install 'brainlearn[cuda]' "
            "(and an NVIDIA GPU with the CUDA toolkit)"
        ) from None


def nvcc_version() -> tuple[int, int] | None:
    """Version of the CUDA compiler brian2cuda will use (``nvcc`` on PATH or in
    ``$CUDA_PATH/bin``), or ``None`` when there is none."""
    cuda_path = os.environ.get("CUDA_PATH")
    nvcc = shutil.which("nvcc") or (str(Path(cuda_path) / "bin" / "nvcc") if cuda_path else None)
    if nvcc is None or not Path(nvcc).exists():
        return None
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"release (\d+)\.(\d+)", out.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _cuda_dialect() -> None:
    # brian2cuda 1.0a7 compiles as C++11; CUDA 13's CUB/Thrust (CCCL) need C++17
    version = nvcc_version()
    if version is None or version[0] < 13:
        return
    backend = prefs.devices.cuda_standalone.cuda_backend
    if "-std=c++17" not in backend.extra_compile_args_nvcc:
        backend.extra_compile_args_nvcc = [*backend.extra_compile_args_nvcc, "-std=c++17"]
    prefs.codegen.cpp.extra_compile_args_gcc = [
        "-std=c++17" if arg == "-std=c++11" else arg
        for arg in prefs.codegen.cpp.extra_compile_args_gcc
    ]


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


# brian2cuda runs the controller's code as a GPU kernel, which has no way to end the host's
# run loop: under cuda_standalone the function does nothing, and callers give each run a fixed
# length (see ``STOPS_ITSELF``).
_STOP_CUDA = """
__host__ __device__ static inline double stop_network(bool cond)
{
    return 0.0;
}
"""

#: whether ``stop_network`` ends a run on each device (cuda_standalone: runs go to their end)
STOPS_ITSELF = {"cpp_standalone": True, "runtime": True, "cuda_standalone": False}


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


def brian2_has_stop_flag() -> bool:
    """Whether the installed Brian2 has ``Network::_globally_stopped`` (2.9 and later)."""
    from brian2 import __version__
    from packaging.version import Version

    return Version(__version__) >= Version("2.9")


def make_stop_network(method: str = "auto") -> Function:
    """The ``stop_network(cond)`` function for generated code.

    It ends the current run at the end of the time step in which ``cond`` holds: in-network
    control, so a compiled standalone run stops itself. In runtime mode it calls
    ``brian2.stop()``. Under ``cuda_standalone`` it does nothing (brian2cuda runs the calling
    code on the GPU, which cannot end the host's loop; see ``STOPS_ITSELF``): a run there
    lasts its full duration, and callers must choose durations that need no stop.

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
        method = "flag" if brian2_has_stop_flag() else "clocks"
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
    func.implementations.add_implementation("cuda", _STOP_CUDA, name="stop_network")
    return func


#: ``stop_network(cond)``: ends the current run at the end of this time step when ``cond``
#: holds (see :func:`make_stop_network`).
stop_network = make_stop_network()


#: brainlearn's spike queue for cpp_standalone (same contents as Brian2's, faster push)
SPIKE_QUEUE = Path(__file__).with_name("cpp") / "spikequeue.h"


def _remove_objects_older_than(header: Path) -> None:
    """Delete the build's object files compiled before ``header`` last changed.

    Brian2's makefile takes its header dependencies from ``g++ -MM``, which names the targets
    of ``code_objects/X.cpp`` ``X.o`` instead of ``code_objects/X.o``: ``make`` never relates
    a code object to the headers it includes. A build folder reused after brainlearn's spike
    queue changed (a run resumed after an upgrade) linked code objects compiled against the
    old queue with the new one, and the program crashed (``free(): invalid pointer``). An
    object older than the header is removed, so ``make`` compiles it again (through the
    compiler cache when there is one).
    """
    stamp = header.stat().st_mtime_ns
    build = header.parent.parent
    for item in [*build.glob("*.o"), *build.glob("code_objects/*.o")]:
        if item.stat().st_mtime_ns < stamp:
            item.unlink(missing_ok=True)


def use_fast_spike_queue(enabled: bool = True) -> None:
    """Build the current ``cpp_standalone`` project with brainlearn's spike queue (or not).

    Brian2's ``CSpikeQueue`` appends the synapses of a spiking cell to the buckets of their
    delays one at a time, with an integer modulo each. ``brainlearn/cpp/spikequeue.h`` keeps
    its interface and fills every bucket with the same synapse indices in the same order
    (so simulations are bit-identical), but precomputes each cell's runs of consecutive
    synapses with one delay and appends a run as its first index and length, writing out a
    bucket's indices only for code that asks for them (``peek``). With synapses stored by
    delay within each source cell (as Diehl & Cook's input synapses are) a spike costs one
    run per distinct delay.
    :func:`select_device` turns it on for ``cpp_standalone`` unless the environment variable
    ``BRAINLEARN_BRIAN2_SPIKE_QUEUE`` is set (to measure against Brian2's queue,
    ``benchmarks/diehl_cook_speed.py --brian2-queue``).

    The file replaces ``brianlib/spikequeue.h`` in the build directory whenever Brian2 writes
    its project; an unchanged file keeps its time stamp, so ``make`` recompiles nothing.

    Parameters
    ----------
    enabled : bool
        ``False`` restores Brian2's own queue (for comparisons).
    """
    dev = get_device()
    if not enabled:
        vars(dev).pop("copy_source_files", None)
        return
    if "copy_source_files" in vars(dev):
        return
    original = dev.copy_source_files

    def copy_source_files(writer, directory):
        target = Path(directory) / "brianlib" / "spikequeue.h"
        ours = SPIKE_QUEUE.read_bytes()
        before = target.stat() if target.exists() and target.read_bytes() == ours else None
        original(writer, directory)
        target.write_bytes(ours)
        if before is not None:  # unchanged: keep the time stamp, nothing to recompile
            os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        _remove_objects_older_than(target)

    dev.copy_source_files = copy_source_files
