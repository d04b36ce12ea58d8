"""brainlearn.analysis: spike tables, exact export to analysis formats, statistics, plots.

Spikes are a long pandas table (see :mod:`brainlearn.analysis.spikes`); writers and
readers exist for Parquet, CSV, SONATA HDF5, NWB and Neo, each round trip exact.
Statistics live in :mod:`brainlearn.analysis.stats`, figures in
:mod:`brainlearn.analysis.plots` (imported on use, to keep matplotlib out of the way).
"""

from .analyze import analyze_run
from .formats import FORMATS, format_of, read_spikes, write_spikes
from .io_neo import from_neo, to_neo
from .run import (
    RunNotEvaluatedError,
    export_run,
    load_run_config,
    load_run_examples,
    load_run_spikes,
    load_run_states,
)
from .spikes import (
    META_KEYS,
    SPIKE_COLUMNS,
    canonical_order,
    check_spike_table,
    concat_spike_tables,
    spike_table,
    spikes_from_monitor,
    state_table,
)
from .states import read_states, write_states
from .stream import SpikeStream, stream_table
from .sweeps import analyze_sweep, sweep_summary

__all__ = [
    "FORMATS",
    "META_KEYS",
    "RunNotEvaluatedError",
    "analyze_run",
    "analyze_sweep",
    "sweep_summary",
    "SPIKE_COLUMNS",
    "SpikeStream",
    "canonical_order",
    "check_spike_table",
    "concat_spike_tables",
    "export_run",
    "format_of",
    "from_neo",
    "load_run_config",
    "load_run_examples",
    "load_run_spikes",
    "load_run_states",
    "read_spikes",
    "read_states",
    "spike_table",
    "spikes_from_monitor",
    "state_table",
    "stream_table",
    "to_neo",
    "write_spikes",
    "write_states",
]
