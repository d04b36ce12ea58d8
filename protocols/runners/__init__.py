"""Protocol runners of the rules that need more than imposed spikes on a synapse.

- :mod:`~brainlearn.protocols.runners.voltage`: voltage-based STDP (Clopath et al. 2010)
  with a real neuron per protocol, and the voltage clamp;
- :mod:`~brainlearn.protocols.runners.calcium`: calcium-based plasticity (Graupner & Brunel
  2012) on noise lanes;
- :mod:`~brainlearn.protocols.runners.gaps`: the shortened silences between a protocol's
  repeated units that both use.

:func:`brainlearn.protocols.run_protocol` chooses the runner a rule needs.
"""

from .calcium import CALCIUM_FREE, run_calcium_protocol
from .gaps import UnitSchedule, unit_schedule
from .voltage import VoltageRun, normalised_weight, run_voltage_protocol, voltage_clamp

__all__ = [
    "CALCIUM_FREE",
    "UnitSchedule",
    "VoltageRun",
    "normalised_weight",
    "run_calcium_protocol",
    "run_voltage_protocol",
    "unit_schedule",
    "voltage_clamp",
]
