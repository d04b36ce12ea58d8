"""Diehl & Cook training speed: brainlearn against the structure of Brian2's official example.

(``benchmarks/diehl_cook_speed.py`` times this checkout against an earlier commit.)

Both are timed in the same run on the same images with the same parameters (dt 0.5 ms):

* **brainlearn**: ``cpp_standalone``, the presentation loop, retry rule and normalisation in
  generated code, chunks of images per execution of one compiled binary.
* **baseline**: the structure of ``examples/frompapers/Diehl_Cook_2015.py`` (runtime mode,
  Brian2's default code generation target, ``run(350 ms)`` + ``run(150 ms)`` per image,
  per-synapse event-driven traces, weight normalisation in numpy between images).

Prints ms per presentation (500 ms of simulated network time, the unit of work both do) and
per training example, and their ratio. Compilation is reported separately.

    python benchmarks/diehl_cook_example_speed.py --neurons 400 --examples 1000 --baseline-examples 20
    python benchmarks/diehl_cook_example_speed.py --neurons 400,1600,6400 --examples 300 \
        --baseline-examples 5 --brian2-queue
    python benchmarks/diehl_cook_example_speed.py --neurons 1600 --examples 500 --baseline-examples 5 \
        --integration euler,exponential_euler,implicit_euler
    python benchmarks/diehl_cook_example_speed.py --neurons 400,1600,6400 --examples 300 \
        --baseline-examples 2 --integration implicit_euler --profile

``--profile`` adds, per size, one more brainlearn run of the same images under Brian2's
profiling (``train(..., profile=True)``; not timed, the profiler's clocks cost time) and prints
the share of the simulation time of the largest code objects: what bounds the speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def run_brainlearn(n: int, k: int, data: str, workdir: Path, brian2_queue: bool = False,
                   integration: str = "euler", profile: bool = False) -> dict:
    from brainlearn.models.diehl_cook import TrainConfig, train

    run_dir = workdir / (f"brainlearn_{n}_{'brian2q' if brian2_queue else 'fastq'}_{integration}"
                         f"{'_profile' if profile else ''}")
    config = TrainConfig.create(neurons=n, examples=k, data=data, chunk=min(k, 1000), seed=0,
                                integration=integration)
    if brian2_queue:  # Brian2's own spike queue (see brainlearn.devices.use_fast_spike_queue)
        os.environ["BRAINLEARN_BRIAN2_SPIKE_QUEUE"] = "1"
    try:
        metrics = train(run_dir, config, progress=False, profile=profile)
    finally:
        os.environ.pop("BRAINLEARN_BRIAN2_SPIKE_QUEUE", None)
    return {
        "seconds": metrics["train_seconds"],
        "compile_seconds": metrics["compile_seconds"],
        "examples": metrics["train_examples"],
        "presentations": metrics["presentations"],
        "profile": pd.read_csv(run_dir / "profile.csv") if profile else None,
    }


def run_baseline(n: int, k: int, images: np.ndarray, warmup: int = 2) -> dict:
    """The official example's structure: Python loop, two run() calls per presentation."""
    from brian2 import (
        Hz,
        Network,
        NeuronGroup,
        PoissonGroup,
        SpikeMonitor,
        Synapses,
        defaultclock,
        ms,
        mV,
        prefs,
        seed,
        start_scope,
    )

    from brainlearn.devices import reset_device
    from brainlearn.models.diehl_cook.model import DiehlCookParams

    reset_device()
    start_scope()
    prefs.codegen.target = "cython" if _has_cython() else "numpy"
    seed(0)
    p = DiehlCookParams()
    defaultclock.dt = p.dt
    rng = np.random.default_rng(0)
    exc_eqs = """
    dv/dt = ((v_rest_e - v) + ge * (0*mV - v) + gi * (-100*mV - v)) / (100*ms) : volt (unless refractory)
    dge/dt = -ge / (1*ms) : 1
    dgi/dt = -gi / (2*ms) : 1
    dtheta/dt = -theta / (1e7*ms) : volt
    """
    inh_eqs = """
    dv/dt = ((v_rest_i - v) + ge * (0*mV - v) + gi * (-85*mV - v)) / (10*ms) : volt (unless refractory)
    dge/dt = -ge / (1*ms) : 1
    dgi/dt = -gi / (2*ms) : 1
    """
    ns = {"v_rest_e": -65 * mV, "v_rest_i": -60 * mV}
    inp = PoissonGroup(784, 0 * Hz)
    exc = NeuronGroup(n, exc_eqs, threshold="v > theta - 20*mV - 52*mV",
                      reset="v = -65*mV; theta += 0.05*mV", refractory=5 * ms,
                      method="euler", namespace=ns)
    inh = NeuronGroup(n, inh_eqs, threshold="v > -40*mV", reset="v = -45*mV",
                      refractory=2 * ms, method="euler", namespace=ns)
    exc.v = -105 * mV
    exc.theta = 20 * mV
    inh.v = -100 * mV
    stdp = Synapses(
        inp, exc,
        """w : 1
        dpre/dt = -pre / (20*ms) : 1 (event-driven)
        dpost1/dt = -post1 / (20*ms) : 1 (event-driven)
        dpost2/dt = -post2 / (40*ms) : 1 (event-driven)""",
        on_pre="ge_post += w; pre = 1.; w = clip(w - 0.0001 * post1, 0, 1)",
        on_post="w = clip(w + 0.01 * pre * post2, 0, 1); post1 = 1.; post2 = 1.",
    )
    stdp.connect()
    stdp.w = ((rng.random((784, n)) + 0.01) * 0.3).ravel()
    stdp.delay = rng.random(784 * n) * 10 * ms
    ei = Synapses(exc, inh, on_pre="ge_post += 10.4")
    ei.connect(j="i")
    ie = Synapses(inh, exc, on_pre="gi_post += 17.0")
    ie.connect(condition="i != j")
    mon = SpikeMonitor(exc)
    net = Network(inp, exc, inh, stdp, ei, ie, mon)

    presentations, examples, start = 0, 0, None
    intensity, j, previous = 2.0, 0, 0
    while examples < k + warmup:
        if examples == warmup and start is None:
            start, presentations = time.perf_counter(), 0
        weights = np.asarray(stdp.w_[:]).reshape(784, n)
        stdp.w_[:] = (weights * (78.0 / weights.sum(axis=0))).ravel()  # normalisation in numpy
        inp.rates = images[j % len(images)] / 8.0 * intensity * Hz
        net.run(p.t_input)
        count = mon.num_spikes - previous
        previous = mon.num_spikes
        inp.rates = 0 * Hz
        net.run(p.t_rest)
        presentations += 1
        if count < 5:
            intensity += 1
        else:
            intensity, j, examples = 2.0, j + 1, examples + 1
    seconds = time.perf_counter() - start
    reset_device()
    return {"seconds": seconds, "examples": k, "presentations": presentations,
            "target": prefs.codegen.target}


def _has_cython() -> bool:
    try:
        import Cython  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", default="400",
                        help="comma-separated network sizes, e.g. 400,1600,6400 (default 400)")
    parser.add_argument("--examples", type=int, default=1000, help="brainlearn training images")
    parser.add_argument("--baseline-examples", type=int, default=20)
    parser.add_argument("--brian2-queue", action="store_true",
                        help="also time brainlearn with Brian2's own spike queue (what "
                        "brainlearn's queue buys)")
    parser.add_argument("--data", default="full", choices=["full", "embedded"])
    parser.add_argument("--integration", default="euler",
                        help="comma-separated integrations of the cells to time, e.g. "
                        "euler,exponential_euler,implicit_euler (default euler)")
    parser.add_argument("--profile", action="store_true",
                        help="per size, one more (untimed) run under Brian2's profiling: the "
                        "share of the time per code object")
    parser.add_argument("--profile-top", type=int, default=6,
                        help="code objects shown per profile (default 6)")
    args = parser.parse_args()
    integrations = [v.strip() for v in args.integration.split(",") if v.strip()]
    sizes = [int(v) for v in args.neurons.split(",") if v.strip()]

    from brainlearn.data import load_mnist

    images, _ = load_mnist("train", source=args.data)
    images = images.reshape(len(images), -1).astype(float)
    workdir = Path(tempfile.mkdtemp(prefix="bl_speed_"))
    rows = []
    profiles = {}
    try:
        for n in sizes:
            base = run_baseline(n, args.baseline_examples, images)
            rows.append((n, f"baseline (official example structure, {base['target']})", base))
            for integ in integrations:
                if args.brian2_queue:
                    rows.append((n, f"brainlearn, Brian2's spike queue, {integ}",
                                 run_brainlearn(n, args.examples, args.data, workdir, True, integ)))
                rows.append((n, f"brainlearn, {integ}",
                             run_brainlearn(n, args.examples, args.data, workdir, False, integ)))
            if args.profile:
                profiles[n] = run_brainlearn(n, args.examples, args.data, workdir, False,
                                             integrations[0], profile=True)["profile"]
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nDiehl & Cook training speed, dt 0.5 ms, {args.data} MNIST "
          "(ms per presentation of 500 ms network time; ratio: baseline / row, same run)")
    print(f"{'N':>5s} {'':52s} {'ms/presentation':>16s} {'ms/example':>11s} {'examples':>9s} "
          f"{'presentations':>14s} {'x baseline':>11s}")
    baseline_ms = {}
    for n, name, r in rows:
        per_pres = 1000 * r["seconds"] / r["presentations"]
        baseline_ms.setdefault(n, per_pres)
        print(f"{n:5d} {name:52s} {per_pres:16.2f} {1000 * r['seconds'] / r['examples']:11.2f} "
              f"{r['examples']:9d} {r['presentations']:14d} {baseline_ms[n] / per_pres:10.1f}x")
    compile_s = [r["compile_seconds"] for _, _, r in rows if "compile_seconds" in r]
    print(f"\nbrainlearn compile times (not included): {', '.join(f'{c:.1f} s' for c in compile_s)}")
    for n, table in profiles.items():
        print(f"\nprofile, N={n}, {integrations[0]} (share of the simulation time, Brian2 "
              f"profile=True, {args.examples} images):")
        for row in table.head(args.profile_top).itertuples():
            print(f"  {100 * row.share:5.1f} %  {row.seconds:9.3f} s  {row.code_object}")


if __name__ == "__main__":
    main()
