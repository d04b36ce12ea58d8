"""The frozen (evaluation) Diehl & Cook network's lean build gives the spikes of the plain one.

The frozen network runs on two shared clocks, with the inhibitory cells' ``gi`` a constant,
brainlearn's threshold template for the input cells, its input synapses unrolled, the
inhibitory synapses' runs vectorised and a loop that reads the CPU time once per run
(``models/diehl_cook/model.py``, ``brainlearn.cppcode``).
The reference is the same network as it was built before: a clock per object, ``gi``
integrated, Brian2's own templates and loop (``BRAINLEARN_BRIAN2_CODE``). Both run the same
images with the same seed and must give the same spikes at the same times.
"""

from __future__ import annotations

import numpy as np
import pytest

from brainlearn.cppcode import untimed_loop_source


def _brian2_network_cpp(maximum_run_time=None) -> str:
    from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject

    return CPPStandaloneCodeObject.templater.network(
        None, None, maximum_run_time=maximum_run_time).cpp_file


def _clock_every_step(source: str) -> bool:
    # whether the loop over time steps reads the CPU time itself (not only for a report)
    start = source.index("while(clock")
    loop = source[start:source.index("Network::_globally_running = false;", start)]
    return "elapsed_realtime = (double)(current - start)" in loop


def test_the_loop_reads_the_cpu_time_once_after_it_instead_of_every_step():
    source = _brian2_network_cpp()
    assert _clock_every_step(source)
    lean = untimed_loop_source(source)
    assert not _clock_every_step(lean)
    after = lean[lean.index("Network::_globally_running = false;", lean.index("while(clock")):]
    assert after.index("elapsed_realtime = (double)(current - start)") < after.index(
        "_last_run_time = elapsed_realtime;")
    # the rest of the program as it was
    assert len(lean.splitlines()) == len(source.splitlines())


def test_a_loop_that_stops_at_a_maximum_run_time_keeps_its_clock():
    source = _brian2_network_cpp(maximum_run_time=10.0)
    assert "if(elapsed_realtime>" in source
    assert untimed_loop_source(source) == source
    assert untimed_loop_source("int main() {}") == "int main() {}"


def _spikes(tmp_path, name: str):
    from brainlearn.models.diehl_cook import TrainConfig
    from brainlearn.models.diehl_cook.config import load_images, run_params
    from brainlearn.models.diehl_cook.evaluation import frozen_chunks, merge_chunks
    from brainlearn.models.diehl_cook.frozen import FrozenNetwork
    from brainlearn.models.diehl_cook.state import frozen_state

    config = TrainConfig.create(neurons=60, examples=40, chunk=20, data="embedded", seed=4)
    params = run_params(config)
    rng = np.random.default_rng(8)
    n = config.neurons
    theta = rng.uniform(0.015, 0.03, n)
    theta[:12] = rng.uniform(0.002, 0.006, 12)  # below rest: fire from every image's start
    weights = {"weights": params.initial_weights(n, rng) * 1.5,
               "theta": theta, "delays": params.initial_delays(n, rng)}
    images = load_images("embedded", "test")[0][:40]
    with FrozenNetwork(config, weights, tmp_path, f"build_{name}") as net:
        compiled = net.network()
        state = frozen_state(config, net.params, net.weights)
        record = merge_chunks(frozen_chunks(compiled, images, state, len(images), "test",
                                            config.seed, range(2)))
    build = tmp_path / f"build_{name}" / "build"
    return record, build


@pytest.mark.slow
def test_lean_frozen_network_spikes_as_the_plain_one(tmp_path, monkeypatch):
    from brainlearn.models.diehl_cook import model

    lean, lean_build = _spikes(tmp_path, "lean")
    monkeypatch.setenv("BRAINLEARN_BRIAN2_CODE", "1")
    # a clock of its own for every object (Brian2's default), instead of the two shared ones
    monkeypatch.setattr(model, "_timing", lambda params: (
        {"dt": model._object_dt(params.dt)}, {"dt": params.period}))
    monkeypatch.setattr(model, "frozen_inh_group", lambda params, n, **kwargs: params.inh.group(
        n, name="inh", method=params.integration, **kwargs))
    monkeypatch.setattr(model, "INH_REST", model.REST)
    plain, plain_build = _spikes(tmp_path, "plain")

    # the builds differ as described: clocks, gi, templates, loop
    assert "Clock step_clock;" in (lean_build / "objects.cpp").read_text()
    assert "Clock step_clock;" not in (plain_build / "objects.cpp").read_text()
    assert "_array_inh_gi[_idx] = gi" not in (
        lean_build / "code_objects" / "inh_stateupdater_codeobject.cpp").read_text()
    assert "#pragma GCC unroll" in (
        lean_build / "code_objects" / "syn_pre_codeobject.cpp").read_text()
    assert "#pragma GCC ivdep" in (
        lean_build / "code_objects" / "inh_exc_pre_codeobject.cpp").read_text()
    assert "ivdep" not in (plain_build / "code_objects" / "inh_exc_pre_codeobject.cpp").read_text()
    assert "_brainlearn_conditions" in (
        lean_build / "code_objects" / "input_spike_thresholder_codeobject.cpp").read_text()
    assert not _clock_every_step((lean_build / "network.cpp").read_text())
    assert _clock_every_step((plain_build / "network.cpp").read_text())

    assert lean.counts.sum() > 100 and len(lean.spikes) > 100
    # cells below rest: many steps see several spikes, so several inhibitory cells act in one
    # step and the order in which each target receives their effects is tested
    per_step = lean.spikes.groupby(["example", "t"]).size()
    assert (per_step >= 3).sum() > 100
    np.testing.assert_array_equal(lean.counts, plain.counts)
    for column in ("neuron", "t", "example"):
        np.testing.assert_array_equal(lean.spikes[column].to_numpy(),
                                      plain.spikes[column].to_numpy(), err_msg=column)
    np.testing.assert_array_equal(lean.presentations["start"].to_numpy(),
                                  plain.presentations["start"].to_numpy())
