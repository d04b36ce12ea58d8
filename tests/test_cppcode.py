"""brainlearn's code objects (runs of synapses, vectorised state update and threshold) give
Brian2's results bit for bit.

Synapses stored by source cell, then delay, then target (as Diehl & Cook's input synapses),
plus a share stored in shuffled order (runs of length one, targets that repeat within a
bucket); an order-sensitive ``on_pre`` (``x_post = 0.9 * x_post + w`` does not commute) that
also writes a synaptic variable from a post-synaptic one; targets that integrate, fire and
are refractory for a time that is not a whole number of steps; a regular ``w *= f_post``
(:func:`brainlearn.cppcode.scale_by_post`, which skips the targets whose ``f`` is exactly 1;
half of them here). The same network and seed are built
with Brian2's template and with brainlearn's, on one thread and, with OpenMP, on two (Brian2
keeps one spike queue per thread and concatenates their buckets, so its own results on two
threads differ from those on one: each thread count is compared with Brian2's at that count).
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    device,
    ms,
    prefs,
)

from brainlearn.cppcode import (
    FastCodeObject,
    IdleSkipCodeObject,
    VectorRunsCodeObject,
    fast_codeobj_class,
    scale_by_post,
    skip_idle_updates,
)
from brainlearn.devices import use_device
from brainlearn.plasticity import DiehlCookSTDP


def _run(directory, runs: bool, threads: int = 0,
         min_run: int | None = None) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(5)
    if min_run is not None:  # walk buckets by runs from this mean run length on
        prefs.codegen.cpp.define_macros = [("BRAINLEARN_MIN_RUN", str(min_run))]
    n_in, n_out, steps = 20, 37, 400
    times = rng.choice(steps, size=300)
    indices = rng.integers(0, n_in, size=300)
    keep = np.unique(np.c_[indices, times], axis=0)
    with use_device("cpp_standalone", directory, threads=threads):
        assert fast_codeobj_class() is FastCodeObject
        source = SpikeGeneratorGroup(n_in, keep[:, 0], keep[:, 1] * 0.1 * ms, dt=0.1 * ms)
        target = NeuronGroup(n_out, "dv/dt = (x - v) / (2 * ms) : 1 (unless refractory)\n"
                             "dx/dt = -x / (5 * ms) : 1\ny : 1\nf : 1", threshold="v > 1.5",
                             reset="v = 0", refractory=1.25 * ms, method="euler", dt=0.1 * ms,
                             codeobj_class=FastCodeObject if runs else None)
        target.y = rng.random(n_out)
        target.f = np.where(np.arange(n_out) % 2 == 0, 1.0, 0.9 + 0.2 * rng.random(n_out))
        syn = Synapses(source, target, "w : 1", dt=0.1 * ms,
                       on_pre="x_post = 0.9 * x_post + w\nw = 0.99 * w + 0.01 * y_post",
                       codeobj_class=FastCodeObject if runs else None)
        pre, post = np.nonzero(rng.random((n_in, n_out)) < 0.8)
        delay = rng.integers(0, 31, size=pre.size)
        order = np.lexsort((post, delay, pre))  # by source, then delay, then target
        shuffled = rng.random(pre.size) < 0.2
        order = np.r_[order[~shuffled[order]], rng.permutation(np.nonzero(shuffled)[0])]
        syn.connect(i=pre[order], j=post[order])
        syn.delay = delay[order] * 0.1 * ms
        syn.w = rng.random(pre.size)
        if runs:  # brainlearn's template when the synapses get brainlearn's code
            scale_by_post(syn, "w", "f", dt=2.5 * ms, when="before_thresholds")
        else:
            syn.run_regularly("w *= f_post", dt=2.5 * ms, when="before_thresholds")
        mon = StateMonitor(target, "x", record=True, dt=0.1 * ms)
        spikes = SpikeMonitor(target)
        Network(source, target, syn, mon, spikes).run((steps + 40) * 0.1 * ms)
        try:
            device.build(directory=str(directory), compile=True, run=True, with_output=False)
        finally:
            prefs.codegen.cpp.define_macros = []
        # Brian2 numbers a code object's name (``_1``) when the process built it before
        (source,) = (directory / "code_objects").glob(f"{syn.name}_pre_codeobject*.cpp")
        code = source.read_text()
        assert ("brainlearn: runs of consecutive synapses" in code) == runs
        (scale,) = (directory / "code_objects").glob(f"{syn.name}_run_regularly_codeobject*.cpp")
        skips = "brainlearn: the synapses of the targets whose factor" in scale.read_text()
        assert skips == (runs and threads == 0)
        return (np.asarray(mon.x[:]), np.asarray(syn.w[:]), np.asarray(spikes.i[:]),
                np.asarray(spikes.t_[:]))


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("stock"), runs=False)


@pytest.mark.parametrize("min_run", [None, 1], ids=["default", "every_bucket_by_runs"])
def test_runs_of_synapses_give_brian2s_results_bit_for_bit(stock, tmp_path, min_run):
    # default: this network's runs are short (mean under 8), its buckets are walked synapse
    # by synapse; min_run 1: every bucket is walked by the runs its queue recorded
    ours = _run(tmp_path, runs=True, min_run=min_run)
    assert np.abs(stock[0]).max() > 1.0 and len(stock[2]) > 20
    for a, b in zip(ours, stock, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_two_threads_split_by_target_give_brian2s_bits_on_two_threads(tmp_path):
    stock = _run(tmp_path / "stock", runs=False, threads=2)
    ours = _run(tmp_path / "runs", runs=True, threads=2)
    for a, b in zip(ours, stock, strict=True):
        np.testing.assert_array_equal(a, b)


def _run_vector(directory, vector: bool, copies: int) -> tuple[np.ndarray, ...]:
    # all-to-all from 8 sources to 150 targets, stored by source, then delay (0-3 steps), then
    # target: runs of about 37 synapses, walked by the vectorised loop from 4 on. With two
    # copies of every synapse, stored side by side, a run holds two synapses per target: the
    # order-sensitive on_pre then needs the plain loop (a vectorised one would lose one of
    # each pair's updates of x)
    rng = np.random.default_rng(3)
    n_in, n_out, steps = 8, 150, 300
    dt = 0.1 * ms
    times = rng.choice(steps, size=120)
    indices = rng.integers(0, n_in, size=120)
    keep = np.unique(np.c_[indices, times], axis=0)
    prefs.codegen.cpp.define_macros = [("BRAINLEARN_MIN_VECTOR_RUN", "4")]
    try:
        with use_device("cpp_standalone", directory):
            source = SpikeGeneratorGroup(n_in, keep[:, 0], keep[:, 1] * dt, dt=dt)
            target = NeuronGroup(n_out, "dx/dt = -x / (5 * ms) : 1\ny : 1", method="exact",
                                 dt=dt)
            target.y = rng.random(n_out)
            syn = Synapses(source, target, "w : 1", dt=dt,
                           on_pre="x_post = 0.9 * x_post + w\nw = 0.99 * w + 0.01 * y_post",
                           codeobj_class=VectorRunsCodeObject if vector else None)
            pre, post = np.nonzero(np.ones((n_in, n_out)))
            delay = rng.integers(0, 4, size=pre.size)
            order = np.repeat(np.lexsort((post, delay, pre)), copies)
            syn.connect(i=pre[order], j=post[order])
            syn.delay = delay[order] * dt
            syn.w = rng.random(order.size)
            mon = StateMonitor(target, "x", record=True, dt=dt)
            Network(source, target, syn, mon).run(steps * dt)
            device.build(directory=str(directory), compile=True, run=True, with_output=False)
            (code,) = (directory / "code_objects").glob(f"{syn.name}_pre_codeobject*.cpp")
            assert ("#pragma GCC ivdep" in code.read_text()) == vector
            return np.asarray(mon.x[:]), np.asarray(syn.w[:])
    finally:
        prefs.codegen.cpp.define_macros = []


@pytest.mark.parametrize("copies", [1, 2], ids=["distinct_targets", "repeated_targets"])
def test_vectorised_runs_give_brian2s_results_bit_for_bit(tmp_path, copies):
    stock = _run_vector(tmp_path / "stock", vector=False, copies=copies)
    ours = _run_vector(tmp_path / "vector", vector=True, copies=copies)
    assert np.abs(stock[0]).max() > 1.0
    for a, b in zip(ours, stock, strict=True):
        np.testing.assert_array_equal(a, b)


def _run_stdp(directory, skip: bool) -> tuple[np.ndarray, ...]:
    # Diehl & Cook's rule with a weight sum on 30 targets: 10 never fire (their traces stay
    # exactly 0), the others now and then; traces are flushed to 0 below 1e-3 (the network's
    # FLUSH uses 1e-30, which takes longer); some weights start above w_max and a regular
    # scaling by f > 1 pushes weights of half the targets above it again. As in the network,
    # the sums are set to a total (8) before the synapses act (there every presentation, here
    # every step), so a cell whose trace is 0 holds the total when its events arrive
    rng = np.random.default_rng(11)
    n_in, n_out, steps = 15, 30, 6000
    dt = 0.1 * ms
    code = DiehlCookSTDP().render("x_post += w", dt=dt, weight_sum="s")
    times = rng.choice(steps, size=600)
    indices = rng.integers(0, n_in, size=600)
    keep = np.unique(np.c_[indices, times], axis=0)
    with use_device("cpp_standalone", directory):
        source = SpikeGeneratorGroup(n_in, keep[:, 0], keep[:, 1] * dt, dt=dt)
        target = NeuronGroup(
            n_out, "dv/dt = (x - v) / (2 * ms) : 1\ndx/dt = -x / (5 * ms) : 1\nth : 1\nf : 1\n"
            + code.post_model, threshold="v > th", reset="v = 0\n" + code.post_reset,
            method="euler", namespace=dict(code.post_namespace), dt=dt)
        target.th = np.r_[np.full(10, 1e9), np.linspace(2.2, 3.2, n_out - 10)]
        target.f = np.where(np.arange(n_out) % 2 == 0, 1.0, 1.05)
        target.run_regularly("post1 = post1 * int(post1 > 1e-3)\n"
                             "post2 = post2 * int(post2 > 1e-3)\ns = 8.0", dt=dt,
                             when="before_thresholds")
        syn = Synapses(source, target, **code.kwargs(), dt=dt,
                       codeobj_class=IdleSkipCodeObject if skip else None)
        pre, post = np.nonzero(np.ones((n_in, n_out)))
        delay = rng.integers(0, 21, size=pre.size)
        order = np.lexsort((post, delay, pre))  # by source, then delay, then target: runs
        syn.connect(i=pre[order], j=post[order])
        syn.delay = delay[order] * dt
        w = rng.random(pre.size) * 0.6
        w[rng.random(pre.size) < 0.1] = 1.25  # above w_max = 1: the clip acts on a zero trace
        syn.w = w
        syn.tpre = code.initial["tpre"]
        syn.run_regularly("w *= f_post", dt=5 * ms, when="before_thresholds")
        mon = StateMonitor(target, ["x", "s", "post1"], record=True, dt=dt)
        spikes = SpikeMonitor(target)
        Network(source, target, syn, mon, spikes).run(steps * dt)
        device.build(directory=str(directory), compile=True, run=True, with_output=False)
        (source,) = (directory / "code_objects").glob(f"{syn.name}_pre_codeobject*.cpp")
        assert ("_brainlearn_is_zero(post1_post)" in source.read_text()) == skip
        return (np.asarray(mon.x[:]), np.asarray(mon.s[:]), np.asarray(syn.w[:]),
                np.asarray(spikes.i[:]), np.asarray(spikes.t_[:]), np.asarray(mon.post1[:]),
                np.asarray(syn.j[:]))


def test_skipping_idle_depressions_gives_brian2s_results_bit_for_bit(tmp_path):
    stock = _run_stdp(tmp_path / "stock", skip=False)
    ours = _run_stdp(tmp_path / "skip", skip=True)
    x, s, w, spiking, _, post1, j = stock
    assert len(spiking) > 50 and not np.isin(np.arange(10), spiking).any()
    assert (post1[:10] == 0).all() and 0.1 < (post1[10:] == 0).mean() < 0.9  # flushed, or not
    # the clip acted on synapses of targets that never fired (trace 0): 1.25 became 1.0
    assert (w[j < 10] == 1.0).any()
    assert (np.diff(s[10:], axis=1) < 0).any()  # depressions changed the sums
    for a, b in zip(ours, stock, strict=True):
        np.testing.assert_array_equal(a, b)


def test_skip_idle_updates_leaves_other_code_alone():
    code = ["const int32_t _postsynaptic_idx = _ptr_array_syn__synaptic_post[_idx];",
            "double ge_post = _ptr_array_exc_ge[_postsynaptic_idx];",
            "const double post1_post = _ptr_array_exc_post1[_postsynaptic_idx];",
            "double w = _ptr_array_syn_w[_idx];",
            "w = _clip(w - (nu_pre * post1_post), w_min, w_max);",
            "ge_post += w;",
            "_ptr_array_exc_ge[_postsynaptic_idx] = ge_post;",
            "_ptr_array_syn_w[_idx] = w;"]
    # the effect reads the weight after the update: the update cannot wait
    assert skip_idle_updates(code) == "\n".join(code)
    code[4], code[5] = code[5], code[4]  # the effect first: the update can wait
    guarded = skip_idle_updates(code).splitlines()
    assert guarded[:6] == [*code[:4], code[4], code[6]]
    assert guarded[6].startswith("if (__builtin_expect(!(_brainlearn_is_zero(post1_post) &&")
    assert guarded[8:10] == ["    " + code[5], "    " + code[7]]
    assert skip_idle_updates(["x_post += w;"]) == "x_post += w;"  # no clipped update


def test_other_devices_keep_brian2s_code_object(tmp_path):
    with use_device("runtime"):
        assert fast_codeobj_class() is None


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["idle_skip", "vector_runs"])
def test_diehl_cook_trains_to_the_same_state_with_brian2s_code_objects(tmp_path, monkeypatch,
                                                                        variant):
    # brainlearn's code objects: at N=40 with the idle depressions skipped
    # (IdleSkipCodeObject); at N=200 (runs of about 10 synapses) with the runs of 4 and more
    # walked by the vectorised loop (VectorRunsCodeObject). The reference also gives every
    # object a clock of its own (Brian2's default), where the network shares two
    from brainlearn.models.diehl_cook import TrainConfig, model, train

    used = []

    def spy():
        used.append(original())
        return used[-1]

    original = model.fast_codeobj_class
    monkeypatch.setattr(model, "fast_codeobj_class", spy)
    neurons, marker = 200, "#pragma GCC ivdep"
    if variant == "idle_skip":
        monkeypatch.setattr(model, "IDLE_SKIP_NEURONS", 40)  # skip idle depressions at N=40 too
        neurons, marker = 40, "_brainlearn_is_zero(post1_post)"
    states = []
    prefs.codegen.cpp.define_macros = [("BRAINLEARN_MIN_VECTOR_RUN", "4")]
    try:
        shared = model._timing

        def own_clocks(params):
            return {"dt": model._object_dt(params.dt)}, {"dt": params.period}

        for name, brian2_code, timing in (("brian2", "1", own_clocks), ("brainlearn", "", shared)):
            monkeypatch.setenv("BRAINLEARN_BRIAN2_CODE", brian2_code)
            monkeypatch.setattr(model, "_timing", timing)
            config = TrainConfig.create(neurons=neurons, examples=30, chunk=15, data="embedded",
                                        seed=2)
            train(tmp_path / name, config, progress=False)
            with np.load(tmp_path / name / "checkpoint.npz") as z:
                states.append({k: z[k].copy() for k in z.files if k != "meta"})
    finally:
        prefs.codegen.cpp.define_macros = []
    assert None in used and FastCodeObject in used  # one build each way
    (code,) = (tmp_path / "brainlearn").glob("build_train/build/code_objects/syn_pre_codeobject*.cpp")
    assert marker in code.read_text()
    # the inhibitory synapses (one run of N - 1 increasing targets per spike) are vectorised
    (inh_exc,) = (tmp_path / "brainlearn").glob("build_train/build/code_objects/inh_exc_pre_codeobject*.cpp")
    assert "#pragma GCC ivdep" in inh_exc.read_text()
    assert "Clock step_clock;" in (tmp_path / "brainlearn/build_train/build/objects.cpp").read_text()
    assert "Clock step_clock;" not in (tmp_path / "brian2/build_train/build/objects.cpp").read_text()
    assert states[0].keys() == states[1].keys() and np.ptp(states[0]["exc.theta"]) > 0
    for key in states[0]:
        np.testing.assert_array_equal(states[1][key], states[0][key], err_msg=key)
