"""Code objects of brainlearn's own ``cpp_standalone`` templates.

:class:`RunSynapsesCodeObject` is Brian2's ``CPPStandaloneCodeObject`` with one template
replaced: the event code of a synaptic pathway (``brainlearn/cpp/templates/synapses.cpp``).
Brian2 runs a pathway's ``on_pre`` code once per synapse index taken from the spike queue's
bucket. The replacement walks the bucket in runs of consecutive synapse indices whose target
cells strictly increase, and runs the same generated code over each run with the synapse index
as the loop counter: inside a run no two synapses share a target, so the iterations are
independent and the synaptic arrays are read and written in order. Where a network stores its
synapses by source cell, then delay, then target (Diehl & Cook's input synapses,
``brainlearn.models.diehl_cook.model.synapse_order``) one spike's synapses of one delay are
one run. With OpenMP threads the pathway is split by target cell, each thread taking its share
of the targets of every run; each target receives its synapses' effects in the bucket's order,
so a simulation is bit-identical to one with Brian2's template, for any number of threads
(Brian2 runs such a pathway, which writes post-synaptic variables, on one thread).

Pathways whose code writes variables other than synaptic and post-synaptic ones, and
``on_post`` pathways, keep Brian2's code. Pass it as ``Synapses(..., codeobj_class=...)``
through :func:`run_synapses_codeobj_class`, which returns ``None`` (Brian2's default) on any
other device than ``cpp_standalone``, and when the environment variable
``BRAINLEARN_BRIAN2_SYNAPSES`` is set (to measure against Brian2's template).
"""

from __future__ import annotations

import os

from brian2 import get_device
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
from brian2.devices.device import all_devices

__all__ = ["RunSynapsesCodeObject", "run_synapses_codeobj_class"]


class RunSynapsesCodeObject(CPPStandaloneCodeObject):
    """``cpp_standalone`` code object whose ``synapses`` template walks runs of synapses."""

    templater = CPPStandaloneCodeObject.templater.derive(
        "brainlearn", templates_dir="cpp/templates"
    )


def run_synapses_codeobj_class() -> type[CPPStandaloneCodeObject] | None:
    """:class:`RunSynapsesCodeObject` under ``cpp_standalone``, otherwise ``None``.

    ``None`` too when the environment variable ``BRAINLEARN_BRIAN2_SYNAPSES`` is set.

    Returns
    -------
    type or None
        The ``codeobj_class`` to give a :class:`brian2.Synapses` of the current device.
    """
    if os.environ.get("BRAINLEARN_BRIAN2_SYNAPSES"):
        return None
    if get_device() is all_devices.get("cpp_standalone"):
        return RunSynapsesCodeObject
    return None
