"""brainlearn's spike queue for cpp_standalone: the same events in the same order as Brian2's.

Heterogeneous delays, several synapses per (cell, delay) and an order-sensitive on_pre update
(``x = 0.9 * x + w`` does not commute), so a bucket filled in any other order would change
the result; plus a pathway with one delay whose synapses are stored in shuffled order (each
cell's synapse indices with gaps: the queue writes such a cell's synapses out whole). Both
builds run the same network with the same seed.
"""

from __future__ import annotations

import numpy as np
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, StateMonitor, Synapses, device, ms

from brainlearn.devices import SPIKE_QUEUE, use_device, use_fast_spike_queue


def _run(directory, fast: bool) -> np.ndarray:
    rng = np.random.default_rng(5)
    n_in, n_out, steps = 20, 7, 400
    times = rng.choice(steps, size=300)
    indices = rng.integers(0, n_in, size=300)
    keep = np.unique(np.c_[indices, times], axis=0)
    with use_device("cpp_standalone", directory):
        use_fast_spike_queue(fast)
        try:
            source = SpikeGeneratorGroup(n_in, keep[:, 0], keep[:, 1] * 0.1 * ms, dt=0.1 * ms)
            target = NeuronGroup(n_out, "x : 1\ny : 1", dt=0.1 * ms)
            syn = Synapses(source, target, "w : 1", on_pre="x_post = 0.9 * x_post + w",
                           dt=0.1 * ms)
            pre, post = np.nonzero(rng.random((n_in, n_out)) < 0.8)
            syn.connect(i=pre, j=post)
            # shuffled delays of 0-3 ms: runs of equal delay of every length, in any order
            syn.delay = rng.integers(0, 31, size=pre.size) * 0.1 * ms
            syn.w = rng.random(pre.size)
            gapped = Synapses(source, target, "u : 1", on_pre="y_post = 0.8 * y_post + u",
                              delay=0.7 * ms, dt=0.1 * ms)
            shuffled = rng.permutation(pre.size)
            gapped.connect(i=pre[shuffled], j=post[shuffled])
            gapped.u = rng.random(pre.size)
            mon = StateMonitor(target, ["x", "y"], record=True, dt=0.1 * ms)
            Network(source, target, syn, gapped, mon).run((steps + 40) * 0.1 * ms)
            device.build(directory=str(directory), compile=True, run=True, with_output=False)
            queue = (directory / "brianlib" / "spikequeue.h").read_bytes()
            assert (queue == SPIKE_QUEUE.read_bytes()) == fast
            return np.stack([np.asarray(mon.x[:]), np.asarray(mon.y[:])])
        finally:
            use_fast_spike_queue(True)


def test_fast_queue_delivers_every_event_in_brian2s_order(tmp_path):
    stock = _run(tmp_path / "stock", fast=False)
    fast = _run(tmp_path / "fast", fast=True)
    assert stock.shape == fast.shape and np.abs(stock[0]).max() > 1.0
    assert np.abs(stock[1]).max() > 1.0
    np.testing.assert_array_equal(fast, stock)


def test_objects_older_than_the_queue_header_are_compiled_again(tmp_path):
    """Brian2's makefile names a code object's header dependencies for ``X.o``, not
    ``code_objects/X.o``, so ``make`` would link objects compiled against an older queue
    header with the new one (a run resumed after an upgrade crashed: ``free(): invalid
    pointer``). Objects older than the header are removed; newer ones are kept."""
    import os

    from brainlearn.devices import _remove_objects_older_than

    header = tmp_path / "brianlib" / "spikequeue.h"
    (tmp_path / "code_objects").mkdir()
    header.parent.mkdir()
    stale = [tmp_path / "objects.o", tmp_path / "code_objects" / "syn_pre_codeobject.o"]
    fresh = [tmp_path / "main.o", tmp_path / "code_objects" / "syn_post_codeobject.o"]
    for path in [*stale, *fresh, header]:
        path.write_bytes(b"x")
    for path in stale:
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    os.utime(header, ns=(2_000_000_000, 2_000_000_000))
    for path in fresh:
        os.utime(path, ns=(3_000_000_000, 3_000_000_000))
    _remove_objects_older_than(header)
    assert [p.exists() for p in stale] == [False, False]
    assert [p.exists() for p in fresh] == [True, True]
