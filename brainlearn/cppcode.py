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

:class:`IdleSkipCodeObject` is :class:`FastCodeObject` whose synapses template puts a
weight update driven by a post-synaptic trace under a condition (:func:`skip_idle_updates`):
where the trace is exactly 0 and the weight within its bounds the update changes nothing, and
the event skips its loads and stores. Diehl & Cook's input synapses use it from
``IDLE_SKIP_NEURONS`` cells up (``brainlearn.models.diehl_cook.model``): at N=6400 most input
spikes reach cells that have not fired for over a second, whose traces are flushed to 0.

:class:`VectorRunsCodeObject` is :class:`FastCodeObject` whose synapses template walks each
run of at least ``BRAINLEARN_MIN_VECTOR_RUN`` synapses (a C++ macro, default 32) with a loop
marked ``#pragma GCC ivdep``, which GCC vectorises (gathers and scatters of the targets'
variables), where the spike queue found that no two synapses of any of its runs share a target
(``CSpikeQueue::runs_increase``: the targets of every run strictly increase, checked once per
preparation of the queue; otherwise, and with Brian2's queue, the plain loop): each target
receives its one event of the run through the same operations, so the numbers are the same.
Diehl & Cook's plastic input synapses use it below ``IDLE_SKIP_NEURONS``: at N=1600 (runs of
about 76 synapses) it trains about 1.15x faster; at N=400 the runs (about 19) stay under the
threshold, where the vectorised loop lost (0.87x), and with the idle skip at N=6400 it lost
too (about 0.89x), so :class:`IdleSkipCodeObject` keeps the plain loop. Diehl & Cook's
inhibitory synapses (``inh_exc``, all to all but self) use it at every size, trained or frozen:
an inhibitory spike's N - 1 synapses are one run of increasing targets, walked by the
vectorised loop instead of copied out of the queue synapse by synapse.

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
           "IdleSkipCodeObject", "VectorRunsCodeObject", "skip_idle_updates",
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


# a depression by a post-synaptic trace, w = clip(w - (nu * trace), lo, hi), as Brian2 writes it
_CLIPPED = re.compile(r"^(?P<w>\w+) = _clip\((?P=w) - \((?P<nu>\w+) \* (?P<trace>\w+)\), "
                      r"(?P<lo>\w+), (?P<hi>\w+)\);$")
# a variable's load from its array, as Brian2 writes it at the top of the event code
_LOAD = re.compile(r"^(?:const )?\w+ (?P<name>\w+) = \w+\[\w+\];$")


def _idle_split(lines: list[str]) -> tuple[list[str], list[str]] | None:
    # (effect, conditional update) of skip_idle_updates, or None when the code is not of its form
    stripped = [line.strip() for line in lines]
    clipped = [i for i, line in enumerate(stripped) if _CLIPPED.match(line)]
    if len(clipped) != 1:
        return None
    m = _CLIPPED.match(stripped[clipped[0]])
    w, trace, lo, hi = m["w"], m["trace"], m["lo"], m["hi"]
    guarded = {clipped[0]}
    old = f"const double {w}_old = {w};"
    if old in stripped:
        guarded.add(stripped.index(old))
    names = [w]
    for i, line in enumerate(stripped):  # weight sums, s += w - w_old
        if re.fullmatch(rf"\w+ \+= {w} - {w}_old;", line):
            name = line.split()[0]
            loads = [k for k, text in enumerate(stripped)
                     if re.fullmatch(rf"double {name} = \w+\[\w+\];", text)]
            if len(loads) != 1:
                return None
            guarded |= {i, loads[0]}
            names.append(name)
    for name in names:  # the stores of the weight and the sums
        stores = [k for k, text in enumerate(stripped) if re.fullmatch(rf"\w+\[\w+\] = {name};", text)]
        if len(stores) != 1:
            return None
        guarded.add(stores[0])
    rest = [i for i in range(len(lines)) if i not in guarded]
    if any(re.search(rf"\b{w}_old\b", stripped[i]) for i in rest):
        return None
    # the rest must not read or write the weight after the update, nor the sums or the trace
    # anywhere but in their loads
    for i in rest:
        load = _LOAD.match(stripped[i])
        if i > clipped[0] and any(re.search(rf"\b{n}\b", stripped[i])
                                  for n in (w, trace, m["nu"], lo, hi)):
            return None
        if any(re.search(rf"\b{n}\b", stripped[i]) for n in names[1:]) \
                or (re.search(rf"\b{trace}\b", stripped[i]) and not load):
            return None
        if i < clipped[0] and re.match(rf"^{w}\b", stripped[i]):  # w written before the update
            return None
    update = [f"if (__builtin_expect(!(_brainlearn_is_zero({trace}) && {lo} <= {w} && {w} <= "
              f"{hi}), 0))", "{", *("    " + stripped[i] for i in sorted(guarded)), "}"]
    return [lines[i] for i in rest], update


def skip_idle_updates(vector_code: str | list[str]) -> str:
    """A pathway's event code with its trace-driven weight update made conditional.

    Event code that updates a weight by a post-synaptic trace,
    ``w = clip(w - nu * trace_post, lo, hi)`` (optionally followed by weight sums
    ``s_post += w - w_old``), leaves ``w`` bit for bit as it was when ``trace_post`` is +0.0
    and ``lo <= w <= hi``: ``nu * 0.0`` is zero, ``w - 0.0`` is ``w`` and the clip returns
    ``w``. This rewrite puts the update, and the loads and stores that it alone needs, under
    ``if (!(trace == +0.0 && lo <= w && w <= hi))`` (the trace tested on its bits), after the
    rest of the event code: the *effect*, e.g. ``ge_post += w``, which reads ``w`` before the
    update and must not read it after, nor the sums, nor the trace other than by its load.
    Most events of a large layer reach cells whose traces have been flushed to 0 (Diehl &
    Cook's ``FLUSH``), so they skip the loads and stores of the target's trace-driven update.

    The sums need a condition. Compiled with ``-ffast-math`` (Brian2's default flags), the
    update of a sum may be reassociated to ``(s - w_old) + w``, which for ``w == w_old``
    returns ``s`` only where ``s - w`` rounds back: always when ``s`` is a total whose last
    significand bit is 0 (78, or any number of fewer than 53 significant bits) and
    ``s - w`` keeps ``s``'s exponent or a lower one, for any ``w`` between 0 and ``s``.
    Diehl & Cook set every cell's ``wsum`` to the normalisation total (78) before each
    presentation, and a cell whose trace is 0 has not fired since, so every event the rewrite
    skips finds ``wsum == 78``, unless an earlier event of the same presentation clipped a
    weight of that cell above ``w_max`` (left there by a normalisation factor above 1) while
    its trace was 0: the one case in which the rewrite may keep the cell's sum exact where
    the compiled update moves it by an ulp. Every comparison made gave the same state bit for
    bit (``tests/test_cppcode.py`` trains Diehl & Cook both ways; docs/results.rst lists the
    runs at N=6400, from the start and from 245,000 images into the paper's run, where no
    weight exceeded 0.9988).

    Parameters
    ----------
    vector_code : str or list of str
        The C++ body of the loop over a bucket's synapses, as Brian2 generates it.

    Returns
    -------
    str
        The body with the update under the condition; ``vector_code`` (joined) where it is not
        of this form.
    """
    if isinstance(vector_code, list):  # Brian2 hands the code over as a list of lines
        vector_code = "\n".join(vector_code)
    split = _idle_split(vector_code.splitlines())
    if split is None:
        return vector_code
    effect, update = split
    return "\n".join(effect + update)


class VectorRunsCodeObject(FastCodeObject):
    """:class:`FastCodeObject` whose synapses template walks each run of at least
    ``BRAINLEARN_MIN_VECTOR_RUN`` synapses (a C++ macro, default 32) with a loop the compiler
    may vectorise (``#pragma GCC ivdep``), where no two synapses of any run share a target
    (checked once per preparation of the spike queue; otherwise the plain loop): each target
    still receives its one effect of the run, so the numbers are the same (see the module)."""

    templater = FastCodeObject.templater.derive(
        "brainlearn", templates_dir="cpp/templates", env_globals={"brainlearn_vector_runs": 1}
    )


class IdleSkipCodeObject(FastCodeObject):
    """:class:`FastCodeObject` whose synapses template skips a trace-driven weight update
    where the trace is 0 and the weight within its bounds (:func:`skip_idle_updates`: the
    same weights bit for bit, and the same sums where they hold a total, as Diehl & Cook's
    do)."""

    templater = FastCodeObject.templater.derive(
        "brainlearn", templates_dir="cpp/templates",
        env_globals={"brainlearn_skip_idle": skip_idle_updates},
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
