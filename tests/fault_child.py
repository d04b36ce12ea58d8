"""Run the brainlearn CLI with one injected fault (a helper of ``tests/test_faults.py``).

Usage: ``python tests/fault_child.py FAULT -- brainlearn-arguments...`` where ``FAULT`` is

``none``
    no fault;
``compile:S``
    ``kill -9`` of this process S seconds after the network's compile starts;
``chunk:S``
    ``kill -9`` S seconds after a compiled chunk starts (the program is running);
``chunk:S@K``
    the same in the K-th compiled chunk (the earlier ones run whole and are checkpointed):
    a kill mid-training at a point that does not depend on the machine's speed or load;
``checkpoint``
    ``kill -9`` while ``checkpoint.npz`` is being written (half of it under its temporary
    name), after the first chunk;
``input``
    ``kill -9`` half-way through writing a run input of the compiled program, with the half
    file under its final name (what a kill did to Brian2's own writes);
``damage``
    a run input is cut to 32768 bytes after it was written and checked, before the program
    reads it (the program reports a read error, the command must fail).
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(seconds: float) -> None:
    timer = threading.Timer(seconds, _die)
    timer.daemon = True
    timer.start()


def _install(fault: str) -> None:
    import brainlearn.chunked as chunked
    import brainlearn.standalone as standalone

    kind, _, arg = fault.partition(":")
    if kind == "compile":
        original_compile = chunked.ChunkedSimulation._compile

        def compile_(self):
            _after(float(arg))
            return original_compile(self)

        chunked.ChunkedSimulation._compile = compile_
    elif kind == "chunk":
        original_run = chunked.run_standalone
        seconds, _, nth = arg.partition("@")
        started = []

        def run(*a, **k):
            started.append(1)
            if len(started) == int(nth or 1):
                _after(float(seconds))
            return original_run(*a, **k)

        chunked.run_standalone = run
    elif kind == "checkpoint":
        original_replace = os.replace
        seen = []

        def replace(src, dst, *a, **k):
            if str(dst).endswith("checkpoint.npz"):
                seen.append(dst)
                if len(seen) == 2:  # the checkpoint after the first chunk
                    size = os.path.getsize(src)
                    os.truncate(src, size // 2)
                    _die()
            return original_replace(src, dst, *a, **k)

        os.replace = replace
    elif kind == "input":
        def write_input(path, data):
            if len(data) > 1024:
                with open(path, "wb") as f:
                    f.write(data[: len(data) // 2])
                    f.flush()
                _die()
            return original_write(path, data)

        original_write = standalone.write_input
        standalone.write_input = write_input
    elif kind == "damage":
        original_stage = standalone.stage_run_args

        def stage(dev, run_args):
            files = original_stage(dev, run_args)
            big = [f for f in files if f.stat().st_size > 32768]
            if big:
                os.truncate(big[0], 32768)
            return files

        standalone.stage_run_args = stage
    elif kind != "none":
        raise SystemExit(f"unknown fault {fault!r}")


def main(argv: list[str]) -> int:
    fault, sep, args = argv[0], argv[1], argv[2:]
    assert sep == "--"
    _install(fault)
    from brainlearn.cli import main as cli

    return cli(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
