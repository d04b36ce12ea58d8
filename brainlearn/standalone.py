"""The files a compiled Brian2 program reads: written whole, checked, and read errors fail.

A ``cpp_standalone`` program reads its inputs from ``BUILD/static_arrays/``: the arrays of
the network (written by Brian2 at every build) and the initial values of each run passed as
``run_args`` (weights, thresholds, a chunk's pixels), in files named by the MD5 of their
contents. Brian2 writes both with ``ndarray.tofile`` under the final name and skips a
``run_args`` file whose name exists, so a file cut short by ``kill -9`` or a full disk was
reused by every later run with the same values, and the program, which only prints
``Error reading '...': file size ... does not match expected size ...``, carried on.
Here:

* :func:`stage_run_args` writes every ``run_args`` file before Brian2 looks at it, under a
  temporary name renamed when complete, and rewrites one whose size or bytes differ from
  what the run needs (Brian2 then finds the right file and writes nothing);
* :func:`remove_stale_run_args` deletes the earlier runs' files of the same variables, which
  Brian2 keeps forever (one set per chunk of a long run);
* :func:`atomic_static_arrays` makes Brian2's build write the network's arrays the same way;
* :func:`run_standalone` runs the program with its error output captured, shows it, and
  raises :class:`StandaloneInputError` (removing the file) when the program reports a
  file it could not read;
* :func:`parent_death_code` is C++ for ``main`` that ends the program when the Python
  process that started it dies, so a killed run leaves no program writing into its build
  folder (Linux ``prctl(PR_SET_PDEATHSIG)``);
* :func:`remove_broken_objects` deletes the object files and program that a compile killed
  half-way left behind (truncated ELF files ``make`` would take as up to date);
* :func:`stable_main_order` puts the lines Brian2 writes in the order of a set of clocks
  (each clock's reset, the network's clocks without code) in the order of the clocks' names,
  so that an unchanged network generates the same ``main.cpp`` in every process: with sets
  of clocks hashed by identity it differed from process to process, and every build of an
  unchanged network recompiled ``main.cpp`` (16 s of a 32 s ``brainlearn mnist predict`` on
  the loaded 2-core machine; Brian2 rewrites only changed files, ``make`` recompiles only
  those).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from brainlearn.atomic import atomic_path, write_error

__all__ = ["StandaloneInputError", "write_input", "stage_run_args", "atomic_static_arrays",
           "run_standalone", "read_errors", "compile_error", "parent_death_code", "remove_broken_objects",
           "sweep_temporary", "stable_main_order", "skip_exit_collection",
           "keep_sigint_ignored", "remove_stale_run_args"]

#: a ``run_args`` file Brian2 names by its values' MD5 (or its lock file): the variable's prefix
_RUN_ARG = re.compile(r"^(init_.+_)[0-9a-f]{32}\.dat(?:\.lock)?$")

#: lines of Brian2's ``objects.cpp`` that report an input file it could not read
_READ_ERROR = re.compile(r"^(?:Error reading|Could not read) '([^']+)'(.*)$", re.MULTILINE)


class StandaloneInputError(RuntimeError):
    """The compiled program could not read one of its input files."""


def write_input(path: str | os.PathLike, data: bytes) -> bool:
    """Make ``path`` hold exactly ``data``: keep a file that does, else write it atomically.

    Returns whether it was (re)written. A file of the wrong size or content (cut short by a
    kill or a full disk, or damaged later) is replaced, never reused.
    """
    path = Path(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return True


def _run_arg_file(dev, key, value) -> tuple[str, bytes] | None:
    """The file name Brian2 gives the value of ``key`` in ``run_args`` and its bytes (None
    when Brian2 passes the value on the command line)."""
    from brian2 import TimedArray
    from brian2.core.variables import VariableView

    if isinstance(key, VariableView) and hasattr(dev, "_prepare_variableview_run_arg"):
        _, _, name, values = dev._prepare_variableview_run_arg(key, value)
    elif isinstance(key, TimedArray) and hasattr(dev, "_prepare_timed_array_run_arg"):
        _, _, name, values = dev._prepare_timed_array_run_arg(key, value)
    else:
        return None
    return (name, values.tobytes()) if name else None


def stage_run_args(dev, run_args: Mapping) -> list[Path]:
    """Write the ``run_args`` files of the next run atomically, checked against their values.

    Parameters
    ----------
    dev : brian2 device
        The active standalone device (its ``project_dir`` is the build folder).
    run_args : mapping
        What will be passed to ``device.run(run_args=...)``.

    Returns
    -------
    list of Path
        The files the run reads (each now holds exactly its values).
    """
    folder = Path(dev.project_dir) / "static_arrays"
    files = []
    for key, value in run_args.items():
        named = _run_arg_file(dev, key, value)
        if named is None:
            continue
        path = folder / named[0]
        write_input(path, named[1])
        files.append(path)
    remove_stale_run_args(folder, {path.name for path in files})
    return files


def remove_stale_run_args(folder: str | os.PathLike, current: set[str]) -> list[Path]:
    """Delete the ``run_args`` files of earlier runs of the variables in ``current``.

    Brian2 names a ``run_args`` file by the MD5 of its values (``init_exc_v_<md5>.dat``, with
    its lock file ``.dat.lock``) and never removes it, so a run in chunks left every chunk's
    weights behind: 80 MB a chunk at N=6400, a full disk within a day. The files of the
    variables in ``current`` (the names the next run reads) with another digest are removed;
    files of other variables and the network's own arrays are left alone.

    Returns
    -------
    list of Path
        The files removed.
    """
    prefixes = {m.group(1) for name in current if (m := _RUN_ARG.match(name))}
    removed = []
    for item in Path(folder).iterdir() if prefixes else ():
        m = _RUN_ARG.match(item.name)
        if m and m.group(1) in prefixes and item.name.removesuffix(".lock") not in current:
            item.unlink(missing_ok=True)
            removed.append(item)
    return removed


def atomic_static_arrays(dev) -> None:
    """Make the standalone device ``dev`` write its static arrays atomically at each build.

    Brian2's ``write_static_arrays(directory)`` writes ``directory/static_arrays/NAME`` in
    place; it is run into a staging folder and each file is then moved under its final name
    (or left alone when that already holds the same bytes).
    """
    if "write_static_arrays" in vars(dev):
        return
    original = dev.write_static_arrays

    def write_static_arrays(directory):
        staging = Path(directory) / ".staging"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "static_arrays").mkdir(parents=True)
        try:
            try:
                original(str(staging))
            except OSError as exc:  # name the file being written (the newest one)
                written = sorted((staging / "static_arrays").iterdir(),
                                 key=lambda p: p.stat().st_mtime_ns)
                name = written[-1].name if written else ""
                raise write_error(Path(directory) / "static_arrays" / name, exc) from None
            for item in sorted((staging / "static_arrays").iterdir()):
                final = Path(directory) / "static_arrays" / item.name
                if final.exists() and _same_file(item, final):
                    continue
                os.replace(item, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    dev.write_static_arrays = write_static_arrays


def _same_file(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def sweep_temporary(folder: str | os.PathLike) -> None:
    """Remove temporary files a killed writer left in ``folder`` (``.NAME.HEX.tmp...``)."""
    for item in Path(folder).glob(".*.tmp*"):
        item.unlink(missing_ok=True)


def compile_error(exc: BaseException, directory: str | os.PathLike, what: str = "network") -> BaseException:
    """The error to show when compiling ``directory`` failed: what to do, in a user's terms.

    Brian2's ``Project compilation failed (error code: 2). Consider running with
    "clean=True" ...`` names an argument a command-line user cannot pass; this says to remove
    the build folder (nothing else is lost: it only holds generated code) and to check the
    C++ compiler if it fails again. Any other error is returned as it is.
    """
    text = str(exc)
    if "compilation failed" not in text.lower():
        return exc
    code = re.search(r"error code:?\s*(\d+)", text)
    how = f" (make ended with code {code.group(1)})" if code else ""
    return RuntimeError(
        f"compiling the {what} in {directory} failed{how}; the compiler's messages are "
        f"above. Remove that build folder (rm -rf {shlex.quote(str(directory))}: it holds "
        "only generated code) and run the command again; if it fails again, check that a "
        "C++ compiler works (see the install guide's table of requirements)")


def read_errors(text: str) -> list[tuple[str, str]]:
    """The files the program reported it could not read in ``text``, with the reason."""
    return [(m.group(1), m.group(2).lstrip(": ").strip()) for m in _READ_ERROR.finditer(text)]


def run_standalone(directory: str | os.PathLike | None = None, run_args: Mapping | None = None,
                   with_output: bool = False) -> None:
    """Run the compiled program of the active standalone device; fail on a read error.

    The ``run_args`` files are staged first (:func:`stage_run_args`). Under
    ``cpp_standalone`` the program's error output goes to ``results/stderr.txt`` and is shown
    after the run; a line ``Error reading '<file>' ...`` (or ``Could not read``) removes that
    file and raises :class:`StandaloneInputError`, so a rerun writes it again.

    Parameters
    ----------
    directory : path, optional
        The build folder (default: the device's project directory).
    run_args : mapping, optional
        Brian2's ``run_args`` (variable views or TimedArrays to values).
    with_output : bool
        Show the program's standard output (Brian2's ``with_output``).
    """
    from brian2 import get_device, prefs

    dev = get_device()
    directory = dev.project_dir if directory is None else directory
    run_args = dict(run_args or {})
    stage_run_args(dev, run_args)
    if type(dev).__name__ != "CPPStandaloneDevice":
        dev.run(directory=str(directory), with_output=with_output, run_args=run_args)
        return
    errors = Path(directory).resolve() / "results" / "stderr.txt"
    errors.parent.mkdir(parents=True, exist_ok=True)
    errors.unlink(missing_ok=True)
    key = "devices.cpp_standalone.run_cmd_unix"
    saved = prefs[key]
    command = [saved] if isinstance(saved, str) else list(saved)
    prefs[key] = ["/bin/sh", "-c", f'exec "$0" "$@" 2>{shlex.quote(str(errors))}', *command]
    parent = os.environ.get("BRAINLEARN_PARENT_PID")
    if command == ["./main"]:  # the program's parent is this process (sh execs it)
        os.environ["BRAINLEARN_PARENT_PID"] = str(os.getpid())
    else:  # a launcher in between (mpirun, taskset ...): no parent check
        os.environ.pop("BRAINLEARN_PARENT_PID", None)
    failure = None
    try:
        dev.run(directory=str(directory), with_output=with_output, run_args=run_args)
    except RuntimeError as exc:
        failure = exc
    finally:
        prefs[key] = saved
        if parent is None:
            os.environ.pop("BRAINLEARN_PARENT_PID", None)
        else:
            os.environ["BRAINLEARN_PARENT_PID"] = parent
    text = errors.read_text(errors="replace") if errors.exists() else ""
    if text:
        sys.stderr.write(text)
    bad = read_errors(text)
    if bad:
        name, why = bad[0]
        path = Path(directory) / name if not os.path.isabs(name) else Path(name)
        path.unlink(missing_ok=True)
        raise StandaloneInputError(
            f"the compiled network could not read its input {path} ({why or 'read failed'}); "
            "the file was removed: run the command again") from None
    if failure is not None:
        raise failure


def parent_death_code() -> str:
    """C++ for the start of ``main``: end the program when its Python parent dies (Linux).

    ``BRAINLEARN_PARENT_PID`` (set by :func:`run_standalone`) closes the gap in which the
    parent dies before ``prctl`` is called.
    """
    return (
        "#ifdef __linux__\n"
        "{\n"
        "    prctl(PR_SET_PDEATHSIG, SIGKILL);\n"
        "    const char* _bl_parent = getenv(\"BRAINLEARN_PARENT_PID\");\n"
        "    if (_bl_parent != NULL && (long)getppid() != atol(_bl_parent)) return 1;\n"
        "}\n"
        "#endif\n"
    )


#: headers :func:`parent_death_code` needs
PARENT_DEATH_HEADERS = ["<sys/prctl.h>", "<signal.h>", "<unistd.h>", "<stdlib.h>"]


def _elf_complete(path: Path) -> bool:
    """Whether ``path`` is an ELF file whose section header table lies within the file (a
    compiler or linker killed while writing leaves a file that fails this)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
        size = path.stat().st_size
    except OSError:
        return False
    if len(head) < 52 or head[:4] != b"\x7fELF":
        return False
    order = "little" if head[5] == 1 else "big"
    if head[4] == 2:  # 64-bit
        shoff = int.from_bytes(head[0x28:0x30], order)
        entsize, count = int.from_bytes(head[0x3A:0x3C], order), int.from_bytes(head[0x3C:0x3E], order)
    else:
        shoff = int.from_bytes(head[0x20:0x24], order)
        entsize, count = int.from_bytes(head[0x2E:0x30], order), int.from_bytes(head[0x30:0x32], order)
    return 0 < shoff and shoff + entsize * count <= size


def remove_broken_objects(build_dir: str | os.PathLike) -> list[Path]:
    """Delete the truncated object files (and then the program) of an interrupted compile.

    ``make`` decides by time stamps, so an object file cut short by a kill (newer than its
    source) would be linked as it is. Returns what was removed.
    """
    build_dir = Path(build_dir)
    broken = [p for p in [*build_dir.glob("*.o"), *build_dir.glob("*/*.o")] if not _elf_complete(p)]
    program = build_dir / "main"
    if broken or (program.exists() and not _elf_complete(program)):
        broken.append(program)
    for path in broken:
        path.unlink(missing_ok=True)
    return broken


#: a network's clock without code objects, as Brian2 adds it to the network in ``main.cpp``
_CLOCK_WITHOUT_CODE = re.compile(r"^\S+\.add\(&(\S+), NULL\);$")


def _sorted_runs(items: list, key) -> list:
    # items with every maximal run of consecutive items whose key is not None sorted by key
    # (stable: items of one key keep their order)
    out, run = [], []
    for item in [*items, None]:
        k = None if item is None else key(item)
        if k is not None:
            run.append((k, item))
            continue
        out += [it for _, it in sorted(run, key=lambda pair: pair[0])]
        run = []
        if item is not None:
            out.append(item)
    return out


def stable_main_order(dev) -> None:
    """Order what Brian2 queued for ``main.cpp`` in a set's order by the clocks' names.

    ``dev`` is the ``cpp_standalone`` device after the network's ``run`` and before its
    ``build``. Brian2 resets every clock (``timestep``, ``t``) and adds the clocks that run no
    code to its network iterating over sets of clocks; each run of such lines is sorted by
    clock name (the lines are independent assignments and registrations: the program is the
    same), so the same network gives the same ``main.cpp`` in every process.
    """
    owner = {}
    for clock in getattr(dev, "clocks", ()):
        for var in ("timestep", "t"):
            owner[dev.get_array_name(clock.variables[var])] = clock.name

    def clock_reset(entry):
        func, args = entry
        if func == "set_by_single_value" and args[0] in owner:
            return owner[args[0]]
        return None

    def null_clock(line):
        match = _CLOCK_WITHOUT_CODE.match(line.strip()) if isinstance(line, str) else None
        return match.group(1) if match else None

    queue = _sorted_runs(list(dev.main_queue), clock_reset)
    for k, (func, args) in enumerate(queue):
        # Brian2's (net, lines); another device's entry of another shape is left as it is
        if func == "run_network" and isinstance(args, tuple) and len(args) == 2 \
                and isinstance(args[1], list):
            queue[k] = (func, (args[0], _sorted_runs(args[1], null_clock)))
    dev.main_queue[:] = queue


def skip_exit_collection() -> None:
    """Let this process exit without Python's last garbage collection.

    A process that imported Brian2 (and sympy, and a network's objects) spends about a second
    collecting them while the interpreter shuts down, after its work is done: a Dask worker
    then outlives its nanny's 4 s grace period and is killed with a warning, and every
    command's exit waits. :func:`gc.freeze` at exit (an :mod:`atexit` handler, registered
    once) moves every object out of the collector's reach, so the shutdown frees modules
    without the last collection; files are closed and ``atexit`` handlers run as before.
    """
    global _EXIT_REGISTERED
    if not _EXIT_REGISTERED:
        import atexit
        import gc

        atexit.register(gc.freeze)
        _EXIT_REGISTERED = True


_EXIT_REGISTERED = False


def keep_sigint_ignored() -> None:
    """A process started with SIGINT ignored (a background job of a non-interactive shell,
    ``cmd &`` in a script) keeps ignoring it, as the shell asked.

    Brian2's import installs its own SIGINT handler over the ignore setting; when the signal
    comes, the handler stops a running simulation early, and outside a run it calls the
    ignore setting as a function (``TypeError: 'Handlers' object is not callable``). Called
    by a command line before its work: in that case Brian2 is imported here, once, and the
    ignore setting put back (nothing is done otherwise, or off the main thread).
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        import brian2  # noqa: F401  (its handler is installed at import, and only then)

        signal.signal(signal.SIGINT, signal.SIG_IGN)
