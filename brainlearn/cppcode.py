"""Code objects of brainlearn's own ``cpp_standalone`` templates.

:class:`FastCodeObject` is Brian2's ``CPPStandaloneCodeObject`` with two templates replaced
and one function's C++ rewritten, each giving the same numbers as Brian2's:

* **synapses** (``brainlearn/cpp/templates/synapses.cpp``), the event code of a pathway.
  Brian2 copies the spike queue's bucket and runs the pathway's ``on_pre`` code once per
  synapse index in it. On one thread the replacement walks the bucket in the runs of
  consecutive synapse indices that brainlearn's spike queue (``brainlearn/cpp/spikequeue.h``)
  recorded while filling it (each run as its first index and length: the queue writes out a
  bucket's indices only for code that asks for them), with the synapse index as the loop
  counter; where a network stores its synapses by source cell, then delay, then target
  (Diehl & Cook's input synapses, ``brainlearn.models.diehl_cook.model.synapse_order``) one
  spike's synapses of one delay are one run. The synapses are visited in Brian2's order, so
  the numbers are Brian2's. A bucket whose mean run is shorter than 8 synapses (the C++
  macro ``BRAINLEARN_MIN_RUN``; Diehl & Cook's N=400 has runs of about 19), or a queue
  without runs (Brian2's own), is walked synapse by synapse. With OpenMP threads the
  template finds runs of consecutive synapses with strictly increasing targets itself and
  splits the pathway by target cell, each thread taking its share of the targets of every run; each target
  receives its synapses' effects in the bucket's order, so the result is bit-identical to
  Brian2's template at the same number of threads (Brian2 runs such a pathway, which writes
  post-synaptic variables, on one thread). Pathways whose code writes variables other than
  synaptic and post-synaptic ones, and ``on_post`` pathways, keep Brian2's code.
* **stateupdate**: ``#pragma GCC ivdep`` on the loop over cells (one thread), so the compiler
  vectorises the update of groups with many state variables instead of giving up on its
  run-time aliasing checks.
* ``timestep(t, dt)``, which Brian2's refractoriness evaluates for every cell and step
  (``timestep(t - lastspike, dt) >= timestep(refractory, dt)``), returns the whole number of
  steps as a ``double`` (``trunc``) instead of an ``int64``: the same number for any time a
  simulation reaches (below 2**53 steps), and a conversion that AVX2 can vectorise.

:class:`UnrolledCodeObject` is :class:`FastCodeObject` whose synapses template also unrolls the
loop over a run four times (``#pragma GCC unroll 4``): fewer instructions per synapse (7.3 M
against 6.1 M per image in the frozen Diehl & Cook network's input synapses at N=400,
callgrind), the same synapses in the same order, so the same numbers.

Give it as ``codeobj_class`` to a group or synapses through :func:`fast_codeobj_class`, which
returns ``None`` (Brian2's default) on any other device than ``cpp_standalone``, and when the
environment variable ``BRAINLEARN_BRIAN2_CODE`` is set (to measure against Brian2's code).

:func:`scale_by_post` runs ``x *= f_post`` regularly on a pathway's synapses with
:class:`ScaleByPostCodeObject`, whose template (``brainlearn/cpp/templates/scale_by_post/``)
multiplies only the synapses of the targets whose ``f`` is not exactly 1, found through a list
of the synapses by target: ``x * 1.0`` is ``x`` for every double (the standalone program does
not flush subnormals to zero), so the results are Brian2's bit for bit. Diehl & Cook's
normalisation is such an operation: the cells that did not fire lately keep their weight sum
and get the factor 1, and at N=6400 the operation touches the synapses of those that did
instead of streaming all 5 M of them (100 MB) through the cache every presentation.

:func:`untimed_steps` marks a network whose ``cpp_standalone`` loop should read the process's
CPU time once per run instead of after every time step: Brian2's ``network.cpp`` (without
OpenMP) calls ``std::clock()`` once per step only to keep ``elapsed_realtime`` current, and
that is a system call (``clock_gettime`` of the process's CPU-time clock has no fast path);
on the 2-core virtual machine it measured, 0.77 ms of system time per image of the frozen
Diehl & Cook network at N=400 (750 steps), about a sixth of its time. Builds of other
networks, and loops with a ``maximum_run_time`` (which needs the time every step), keep
Brian2's code.
"""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

from brian2 import Network, Synapses, get_device
from brian2.core.functions import DEFAULT_FUNCTIONS
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
from brian2.devices.device import all_devices

__all__ = ["FastCodeObject", "ScaleByPostCodeObject", "UnrolledCodeObject", "OneSpikeCodeObject",
           "fast_codeobj_class", "one_spike_codeobj_class", "scale_by_post", "untimed_steps",
           "untimed_loop_source"]

_TIMESTEP = """
static inline double _timestep(double t, double dt)
{
    return trunc((t + 1e-3*dt)/dt);
}
"""


class FastCodeObject(CPPStandaloneCodeObject):
    """``cpp_standalone`` code object with brainlearn's ``synapses`` and ``stateupdate``
    templates and a vectorisable ``timestep`` (see the module)."""

    templater = CPPStandaloneCodeObject.templater.derive(
        "brainlearn", templates_dir="cpp/templates"
    )


class UnrolledCodeObject(FastCodeObject):
    """:class:`FastCodeObject` whose synapses template unrolls the loop over a run of
    synapses four times (same synapses, same order, same numbers; see the module)."""

    templater = FastCodeObject.templater.derive(
        "brainlearn", templates_dir="cpp/templates", env_globals={"brainlearn_unroll": 4}
    )


class OneSpikeCodeObject(FastCodeObject):
    """:class:`FastCodeObject` whose threshold template lets one of the cells that cross
    threshold in a step emit the spike event, chosen uniformly at random with Brian2's random
    generator (BindsNET's ``DiehlAndCookNodes(one_spike=True)``). Every crossing cell is marked
    refractory; the others' reset is the group's business (a custom event of the same
    condition, see :func:`brainlearn.models.lcsnn.model.build_network`)."""

    templater = FastCodeObject.templater.derive(
        "brainlearn", templates_dir="cpp/templates", env_globals={"brainlearn_one_spike": 1}
    )


def one_spike_codeobj_class() -> type[CPPStandaloneCodeObject]:
    """:class:`OneSpikeCodeObject`: the ``codeobj_class`` of a group whose spike event keeps
    one crossing cell per step (``cpp_standalone`` only, ``BRAINLEARN_BRIAN2_CODE`` or not).

    Raises
    ------
    ValueError
        On any other device.
    """
    if get_device() is all_devices.get("cpp_standalone"):
        return OneSpikeCodeObject
    raise ValueError(f"one spike per step needs the cpp_standalone device, not "
                     f"{type(get_device()).__name__} (brainlearn's threshold template picks "
                     f"the cell)")


def _pointer(variable) -> str:
    # the name of a variable's array in a code object (Brian2's CPPCodeGenerator.get_array_name)
    return f"_ptr{get_device().get_array_name(variable)}"


class ScaleByPostCodeObject(FastCodeObject):
    """:class:`FastCodeObject` whose state update template runs ``x *= f_post`` on the
    synapses of the targets whose ``f`` is not exactly 1 (see the module); only for that
    code, through :func:`scale_by_post`."""

    templater = FastCodeObject.templater.derive(
        "brainlearn", templates_dir="cpp/templates/scale_by_post",
        env_globals={"brainlearn_pointer": _pointer},
    )


DEFAULT_FUNCTIONS["timestep"].implementations.add_implementation(
    FastCodeObject, code={"support_code": _TIMESTEP, "hashdefine_code": ""}, name="_timestep"
)


def fast_codeobj_class() -> type[CPPStandaloneCodeObject] | None:
    """:class:`FastCodeObject` under ``cpp_standalone``, otherwise ``None``.

    ``None`` too when the environment variable ``BRAINLEARN_BRIAN2_CODE`` is set.

    Returns
    -------
    type or None
        The ``codeobj_class`` to give a :class:`brian2.NeuronGroup` or
        :class:`brian2.Synapses` of the current device.
    """
    if os.environ.get("BRAINLEARN_BRIAN2_CODE"):
        return None
    if get_device() is all_devices.get("cpp_standalone"):
        return FastCodeObject
    return None


def scale_by_post(synapses: Synapses, variable: str, factor: str, **kwargs):
    """Run ``variable *= factor_post`` regularly on ``synapses``, skipping factors of exactly 1.

    ``synapses.run_regularly(f"{variable} *= {factor}_post", **kwargs)``, with
    :class:`ScaleByPostCodeObject` as its code object class where :func:`fast_codeobj_class`
    gives brainlearn's code (otherwise Brian2's). The results are the same either way.

    Parameters
    ----------
    synapses : brian2.Synapses
        The pathway; ``variable`` is one of its synaptic variables.
    variable : str
        The synaptic variable scaled.
    factor : str
        A variable of the post-synaptic group (without ``_post``), the factor of each target.
    **kwargs
        ``run_regularly``'s arguments (``dt``, ``when``, ``order``, ``name``).

    Returns
    -------
    brian2.CodeRunner
        The operation (added to the synapses, as ``run_regularly`` does).
    """
    codeobj_class = ScaleByPostCodeObject if fast_codeobj_class() is FastCodeObject else None
    return synapses.run_regularly(f"{variable} *= {factor}_post", codeobj_class=codeobj_class,
                                  **kwargs)


# the loop's reading of the CPU time after every step (Brian2's network.cpp without OpenMP)
_STEP_CLOCK = re.compile(
    r"^[ \t]*current = std::clock\(\);\n"
    r"[ \t]*elapsed_realtime = \(double\)\(current - start\)/\(1 \* CLOCKS_PER_SEC\);\n",
    re.MULTILINE,
)
_AFTER_LOOP = "    _last_run_time = elapsed_realtime;\n"
_MARK = "brainlearn_untimed_steps"


def untimed_loop_source(source: str) -> str:
    """Brian2's ``network.cpp`` source with the CPU time read once, after the loop, instead
    of after every step (see the module); ``source`` unchanged if it is not the loop this
    expects (another Brian2, OpenMP) or stops at a ``maximum_run_time``.

    ``elapsed_realtime`` is only read after the loop then (``_last_run_time``), so the
    program does the same, less one system call per step.
    """
    if (len(_STEP_CLOCK.findall(source)) != 1 or source.count(_AFTER_LOOP) != 1
            or "if(elapsed_realtime>" in source):
        return source
    timed = ("    current = std::clock();\n"
             "    elapsed_realtime = (double)(current - start)/(1 * CLOCKS_PER_SEC);\n")
    return _STEP_CLOCK.sub("", source).replace(_AFTER_LOOP, timed + _AFTER_LOOP)


class _UntimedWriter:
    # Brian2's project writer, with network.cpp's loop untimed
    def __init__(self, writer) -> None:
        self._writer = writer

    def write(self, filename: str, contents) -> None:
        if filename == "network.*":
            contents = SimpleNamespace(cpp_file=untimed_loop_source(contents.cpp_file),
                                       h_file=contents.h_file)
        self._writer.write(filename, contents)


def untimed_steps(network: Network) -> None:
    """Build ``network``'s ``cpp_standalone`` project with a loop that reads the CPU time once
    per run, not after every step (see the module; the simulation is the same).

    It marks the network; the current device then writes ``network.cpp`` through
    :func:`untimed_loop_source` for a project that runs a marked network, and Brian2's own
    for any other. Nothing happens on other devices than ``cpp_standalone``.

    Parameters
    ----------
    network : brian2.Network
        The network (before its run).
    """
    dev = get_device()
    if dev is not all_devices.get("cpp_standalone"):
        return
    setattr(network, _MARK, True)
    if "generate_network_source" in vars(dev):
        return
    original = dev.generate_network_source

    def generate_network_source(writer, compiler):
        if any(getattr(net, _MARK, False) for net in dev.networks):
            writer = _UntimedWriter(writer)
        original(writer, compiler)

    dev.generate_network_source = generate_network_source
