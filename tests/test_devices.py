"""In-network stop: a standalone run ends itself at the step its condition first holds.

Both C++ mechanisms are checked on the installed Brian2: the ``flag`` one (Brian2 >= 2.9) and
the ``clocks`` one that also works with Brian2 2.8 (the version brian2cuda 1.0a7 pins).
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, StateMonitor, get_device, ms, prefs

from brainlearn.chunked import ChunkedSimulation
from brainlearn.devices import (
    brian2_has_stop_flag,
    build,
    make_stop_network,
    stop_network,
    use_device,
)

STOP_AT = 7  # steps
STEPS = 100


def _counting_network(stop):
    group = NeuronGroup(1, "n : 1\nstopped : 1", dt=0.1 * ms, namespace={"stop_network": stop})
    group.run_regularly(f"n += 1\nstopped = stop_network(n >= {STOP_AT})", dt=0.1 * ms)
    mon = StateMonitor(group, "n", record=0, dt=0.1 * ms, when="end")
    return group, mon, Network(group, mon)


@pytest.mark.parametrize("method", ["flag", "clocks"])
def test_standalone_run_stops_itself(method, tmp_path):
    if method == "flag" and not brian2_has_stop_flag():
        pytest.skip("Brian2 < 2.9 (the cuda extra's pin) has no Network::_globally_stopped; "
                    "the 'clocks' case covers this version")
    with use_device("cpp_standalone", tmp_path / "build"):
        group, mon, net = _counting_network(make_stop_network(method))
        net.run(STEPS * 0.1 * ms)
        build(tmp_path / "build", run=True)
        # the step in which the condition held ran to its end, and no step after it
        assert group.n_[0] == STOP_AT
        np.testing.assert_array_equal(mon.n_[0], np.arange(1, STOP_AT + 1))


def test_runtime_run_stops_itself():
    with use_device("runtime"):  # numpy target: the Python implementation calls brian2.stop()
        group, mon, net = _counting_network(make_stop_network())
        net.run(STEPS * 0.1 * ms)
    assert group.n_[0] == STOP_AT
    np.testing.assert_array_equal(mon.n_[0], np.arange(1, STOP_AT + 1))


def test_unknown_stop_method_is_refused():
    with pytest.raises(ValueError, match="method must be"):
        make_stop_network("signal")


def test_diehl_cook_runs_have_a_fixed_length_where_the_network_cannot_stop_itself(
    tmp_path, monkeypatch
):
    import sys
    import types

    from brainlearn.models.diehl_cook import network
    from brainlearn.models.diehl_cook.model import DiehlCookParams

    made = {}

    class Recorder:  # stands in for the compiled simulation: records what it was given
        def __init__(self, build, duration, device_name, directory, threads, profile=False):
            made[device_name] = duration

    monkeypatch.setattr(network, "ChunkedSimulation", Recorder)
    # a stand-in brian2cuda module: the duration is chosen before any code is generated
    monkeypatch.setitem(sys.modules, "brian2cuda", types.ModuleType("brian2cuda"))
    params, delays = DiehlCookParams(), np.zeros((784, 4))
    for name in ("cpp_standalone", "cuda_standalone"):
        config = {"neurons": 4, "chunk": 10, "device": name}
        network.make_sim(config, params, tmp_path, True, delays)
    # C++ runs stop themselves after their images, with room for retries; cuda runs (whose
    # stop_network does nothing) show exactly ``chunk`` presentations
    assert made["cpp_standalone"] == 2 * 10 * params.period
    assert made["cuda_standalone"] == 10 * params.period
    assert "cuda" in [getattr(k, "class_name", k) for k in stop_network.implementations]


def test_diehl_cook_on_cuda_without_brian2cuda_names_the_extra(tmp_path, monkeypatch):
    import sys

    from brainlearn.models.diehl_cook import make_sim
    from brainlearn.models.diehl_cook.model import DiehlCookParams

    config = {"neurons": 4, "chunk": 2, "device": "cuda_standalone"}
    monkeypatch.setitem(sys.modules, "brian2cuda", None)
    with pytest.raises(RuntimeError, match=r"brainlearn\[cuda\]"):
        make_sim(config, DiehlCookParams(), tmp_path, True, np.zeros((784, 4)))


def _device_state() -> tuple:
    """What a caller of a failed simulation would notice: device kind, preferences, project."""
    dev = get_device()
    return (type(dev).__name__, prefs.codegen.target,
            prefs.devices.cpp_standalone.openmp_threads,
            list(prefs.devices.cpp_standalone.extra_make_args_unix),
            len(getattr(dev, "code_objects", {})))


def _failing_build():
    NeuronGroup(1, "v : 1")
    raise RuntimeError("network construction failed")


def test_no_device_state_leaks_from_calls_that_fail(tmp_path):
    before = _device_state()
    assert before[0] == "RuntimeDevice"
    # an error inside the block, with threads and a build directory set
    with pytest.raises(RuntimeError, match="inside"):
        with use_device("cpp_standalone", tmp_path / "a", threads=2):
            assert type(get_device()).__name__ == "CPPStandaloneDevice"
            assert prefs.devices.cpp_standalone.openmp_threads == 2
            assert prefs.devices.cpp_standalone.extra_make_args_unix != before[3]
            raise RuntimeError("inside")
    assert _device_state() == before
    # a compiled simulation whose network cannot be built, twice in a row
    for attempt in range(2):
        with pytest.raises(RuntimeError, match="construction failed"):
            ChunkedSimulation(_failing_build, 1 * ms, "cpp_standalone", tmp_path / f"b{attempt}")
        assert _device_state() == before
    # a runtime simulation whose build fails leaves runtime mode with the original target
    sim = ChunkedSimulation(_failing_build, 1 * ms, "runtime")
    with pytest.raises(RuntimeError, match="construction failed"):
        sim.run({}, np.zeros((1, 1)), 0)
    sim.close()
    assert _device_state()[:4] == before[:4]
    # and a standalone run still works afterwards
    with use_device("cpp_standalone", tmp_path / "c"):
        group, mon, net = _counting_network(make_stop_network())
        net.run(STEPS * 0.1 * ms)
        build(tmp_path / "c", run=True)
        assert group.n_[0] == STOP_AT
    assert _device_state() == before


def test_compiles_go_through_ccache_when_it_is_there_unless_turned_off(tmp_path, monkeypatch):
    from brainlearn.devices import compiler_cache_args

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ccache").write_text("#!/bin/sh\nexec \"$@\"\n")
    (fake / "ccache").chmod(0o755)
    monkeypatch.delenv("BRAINLEARN_CCACHE", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    assert compiler_cache_args() == ["'CXX=ccache g++'"]  # make's own default compiler
    monkeypatch.setenv("CXX", "clang++")
    assert compiler_cache_args() == ["'CXX=ccache clang++'"]  # the user's compiler, cached
    monkeypatch.setenv("CXX", "/usr/bin/ccache g++")
    assert compiler_cache_args() == []  # already cached: not twice
    monkeypatch.delenv("CXX")
    monkeypatch.setenv("BRAINLEARN_CCACHE", "0")
    assert compiler_cache_args() == []  # turned off
    monkeypatch.delenv("BRAINLEARN_CCACHE")
    (fake / "ccache").unlink()
    monkeypatch.setenv("PATH", str(fake))
    assert compiler_cache_args() == []  # no ccache: make's plain $(CXX)
    # use_device passes the argument to make and restores the preferences after the block
    (fake / "ccache").write_text("#!/bin/sh\nexec \"$@\"\n")
    (fake / "ccache").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    before = list(prefs.devices.cpp_standalone.extra_make_args_unix)
    with use_device("cpp_standalone", tmp_path / "build"):
        assert "'CXX=ccache g++'" in prefs.devices.cpp_standalone.extra_make_args_unix
    assert list(prefs.devices.cpp_standalone.extra_make_args_unix) == before


def test_a_build_of_the_same_network_waits_for_the_compile_lock_and_others_do_not(
        tmp_path, monkeypatch):
    import fcntl
    import shutil
    import subprocess
    import time

    from brainlearn.devices import compile_lock_command

    if shutil.which("flock") is None:
        pytest.fail("util-linux flock is not installed")
    monkeypatch.delenv("BRAINLEARN_COMPILE_LOCK", raising=False)
    assert compile_lock_command() is None  # unset: nothing waits
    locks = tmp_path / "locks"
    monkeypatch.setenv("BRAINLEARN_COMPILE_LOCK", str(locks))
    with use_device("cpp_standalone", tmp_path / "build"):
        make = prefs.devices.cpp_standalone.make_cmd_unix
        assert make == f"{compile_lock_command()} make"
    assert prefs.devices.cpp_standalone.make_cmd_unix == "make"  # restored
    builds = {}
    for name, network in (("held", "same"), ("same", "same"), ("other", "other")):
        builds[name] = tmp_path / name
        builds[name].mkdir()
        (builds[name] / "objects.h").write_text(f"// {network} network\n")
        (builds[name] / "makefile").write_text("all:\n\ttouch done\n")
    # another process compiling the network of "held": take its lock the way make does
    subprocess.run(f"{make} -s", shell=True, cwd=builds["held"], check=True)
    lock_file, = locks.iterdir()
    with open(lock_file) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        same = subprocess.Popen(f"{make} -s", shell=True, cwd=builds["same"])
        other = subprocess.run(f"{make} -s", shell=True, cwd=builds["other"], timeout=60)
        assert other.returncode == 0 and (builds["other"] / "done").exists()  # not held up
        time.sleep(0.5)
        assert same.poll() is None and not (builds["same"] / "done").exists()  # waiting
        fcntl.flock(held, fcntl.LOCK_UN)
        assert same.wait(timeout=60) == 0
    assert (builds["same"] / "done").exists()


def test_the_same_network_built_twice_in_one_process_gets_the_same_names(tmp_path, monkeypatch):
    """Brian2 names objects after the live ones (``neurongroup_1`` while an earlier build's
    objects wait for the garbage collector); ``ChunkedSimulation`` collects them before its
    build, so a second build of the same network in the same process generates the same
    files (make and the compiler cache then reuse the first one's objects). The automatic
    collector is off here, as it is whenever it has not run between two builds; the compiler
    is not called (only the generated names are compared)."""
    import gc

    from brian2 import device

    import brainlearn.chunked as chunked
    from brainlearn.models.diehl_cook import make_sim
    from brainlearn.models.diehl_cook.model import DiehlCookParams

    names = []
    monkeypatch.setattr(chunked, "build", lambda directory, run=False: names.append(
        sorted(device.code_objects) + sorted(o.name for o in sim_objects()["network"].objects)))
    params = DiehlCookParams()
    config = {"neurons": 10, "chunk": 5, "device": "cpp_standalone", "threads": None}
    holder = {}

    def sim_objects():
        return holder["objects"]

    original_build = chunked.ChunkedSimulation._compile

    def compile_(self):
        original = self.build

        def build():
            holder["objects"] = original()
            return holder["objects"]

        self.build = build
        return original_build(self)

    monkeypatch.setattr(chunked.ChunkedSimulation, "_compile", compile_)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for attempt in range(2):
            net = make_sim(config, params, tmp_path / f"run{attempt}", True,
                           np.zeros((784, 10)))
            net.close()
            del net
            holder.clear()
    finally:
        if was_enabled:
            gc.enable()
    assert len(names) == 2 and names[0]
    assert names[0] == names[1], sorted(set(names[1]) - set(names[0]))[:5]


def test_a_device_held_to_the_end_of_the_process_is_let_go_quietly(tmp_path):
    """A standalone device still selected when the interpreter exits (a Dask worker keeps its
    frozen network to its end) is not reset as the modules are torn down: no "Exception
    ignored in: generator use_device ... sys.meta_path is None" on stderr."""
    import subprocess
    import sys

    code = ("from contextlib import ExitStack\n"
            "from brian2 import get_device\n"
            "from brainlearn.devices import use_device\n"
            "class Worker:  # held in a class, as a worker's cached network is: a cycle\n"
            "    held = ExitStack()\n"
            f"Worker.held.enter_context(use_device('cpp_standalone', {str(tmp_path / 'b')!r}))\n"
            "print(type(get_device()).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "CPPStandaloneDevice"
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr


_MAIN_CPP = """
import hashlib, sys
from brian2 import Network, NeuronGroup, Synapses, device, ms
from brainlearn.devices import use_device
from brainlearn.standalone import stable_main_order
junk = [object() for _ in range(int(sys.argv[2]))]  # other identities, other set orders
with use_device("cpp_standalone", sys.argv[1]):
    groups = [NeuronGroup(3, "dv/dt = -v / (10*ms) : 1", threshold="v > 1", reset="v = 0",
                          name=f"g{k}", dt=0.5 * ms) for k in range(6)]
    links = [Synapses(a, b, on_pre="v_post += 0.5", name=f"s{k}", dt=0.5 * ms)
             for k, (a, b) in enumerate(zip(groups, groups[1:]))]
    for s in links:
        s.connect()
    for g in groups:
        g.run_regularly("v = 0", dt=5 * ms)
    Network(*groups, *links).run(1 * ms)
    if sys.argv[3] == "stable":
        stable_main_order(device)
    device.build(directory=sys.argv[1], compile=False, run=False)
    with open(sys.argv[1] + "/main.cpp", "rb") as f:
        print(hashlib.sha256(f.read()).hexdigest())
"""


def test_an_unchanged_network_generates_the_same_main_cpp_in_every_process(tmp_path):
    """Brian2 writes some lines of ``main.cpp`` in the order of a set of clocks (hashed by
    identity): ordered by the clocks' names, the same network gives the same file in every
    process, so a rebuild in the same folder recompiles nothing."""
    import subprocess
    import sys

    def digest(k: int, mode: str = "stable") -> str:  # mode "raw": as Brian2 writes it
        out = subprocess.run([sys.executable, "-c", _MAIN_CPP, str(tmp_path / f"{mode}{k}"),
                              str(97 * k), mode], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout.strip().splitlines()[-1]

    assert len({digest(k) for k in range(3)}) == 1
