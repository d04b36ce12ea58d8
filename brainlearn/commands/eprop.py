"""``brainlearn eprop``: train recurrent spiking networks online with e-prop (Brian2)."""

from __future__ import annotations

import argparse

__all__ = ["register", "handle_train", "handle_nest", "handle_mnist_readout"]

EPILOG = """examples:
  brainlearn eprop train --task sine-waves --out runs/eprop_sine
  brainlearn eprop train --task evidence-accumulation --out runs/eprop_ea
  brainlearn eprop train --resume runs/eprop_ea            # after Ctrl-C or a kill
  brainlearn eprop nest                                    # NEST's test protocols, loss table
  brainlearn eprop mnist-readout runs/n100                 # e-prop readout on a Diehl & Cook run
"""

READOUT_EPILOG = """Trains a softmax readout of the Diehl & Cook spikes online with e-prop (one update per
image, Brian2) on the spike trains the run recorded of its label-assignment images
(assign_spikes.parquet: each image's counted input window, played over --steps steps),
scores the test images (test_spikes.parquet), adds accuracy_eprop to the run's
metrics.json (`brainlearn compare DIR` shows it as a row) and saves the fitted readout
(eprop_readout.json, eprop_readout.npz; EpropReadout.load(DIR) in Python). A run evaluated
before the spike files were recorded needs `brainlearn mnist evaluate DIR` again.

examples:
  brainlearn mnist evaluate runs/n100 --readout vote,logistic,online
  brainlearn eprop mnist-readout runs/n100
"""

TRAIN_EPILOG = """Trains the task with e-prop in Brian2 generated code (cpp_standalone: one compiled
binary re-executed per chunk of iterations) and writes DIR/config.json, DIR/checkpoint.npz
(after every chunk), DIR/loss.csv, DIR/metrics.json and DIR/figure.png (input raster,
recurrent raster, readout against target, loss curve). Evidence accumulation stops when the
error of the last batch and the mean over the last 8 batches are below --stop-error (0.07,
the original code's criterion).

examples:
  brainlearn eprop train --task sine-waves --iterations 200 --out runs/eprop_sine
  brainlearn eprop train --task evidence-accumulation --batch-size 32 --out runs/eprop_ea
  brainlearn eprop train --task evidence-accumulation --iterations 5 --batch-size 1 \\
      --chunk 5 --out /tmp/ea5        # NEST's test protocol: the loss table of `eprop nest`
"""

NEST_EPILOG = """Runs NEST itself and brainlearn (Brian2) on the same e-prop tasks (weights, input spikes
and targets drawn from --seed as NEST's own tests draw them) and prints both loss columns per
iteration with the largest relative difference. Needs NEST: pip install "brainlearn[nest]".

--generation bsshslm_2020 (default): NEST's eprop_iaf(_adapt)_bsshslm_2020 and
eprop_readout_bsshslm_2020; sine-wave regression and evidence accumulation (batch 1 and 2).
--generation 2023: NEST's eprop_iaf, eprop_iaf_adapt and eprop_readout with eprop_synapse
(weights updated at presynaptic spikes); the sine-wave regression of NEST's test (100-step
sequences) and the same task on 1000-step sequences, where the loss falls over iterations.

Loss of an iteration (as NEST's tests compute it, from the readout y_k[t] and target y*_k[t]):
regression 1/2 mean_k sum_t (y_k[t] - y*_k[t])^2 over the sequence; classification
-1/T_w sum_t sum_k y*_k[t] log softmax(y[t])_k over the recall window; averaged over the batch.

examples:
  brainlearn eprop nest
  brainlearn eprop nest --seed 7 --iterations 10
  brainlearn eprop nest --generation 2023 --seed 3 --iterations 5
"""


def handle_train(args: argparse.Namespace) -> int:
    """Run ``brainlearn eprop train``."""
    from brainlearn.models.eprop.runs import summary, train_task

    out = args.resume or args.out
    metrics = train_task(out, args.task, resume=bool(args.resume), progress=not args.quiet,
                         iterations=args.iterations, batch_size=args.batch_size,
                         chunk=args.chunk, seed=args.seed, device=args.device,
                         stop_error=args.stop_error)
    print(f"{summary(metrics)} -> {out}")
    return 0


def handle_nest(args: argparse.Namespace) -> int:
    """Run ``brainlearn eprop nest``: NEST live beside brainlearn, both loss columns."""
    from brainlearn.models.eprop.nest import (
        append_validation,
        largest_difference,
        validation_rows,
        write_comparison,
    )
    from brainlearn.models.eprop.nest_live import require_nest

    require_nest()  # one line saying how to install NEST, before any simulation
    table, path = write_comparison(args.out, device_name=args.device, seed=args.seed,
                                   iterations=args.iterations, live=True,
                                   generation=args.generation)
    shown = table[["protocol", "iteration", "brian2", "nest", "rel_diff_nest"]]
    print(shown.rename(columns={"brian2": "brainlearn"}).to_string(
        index=False, float_format=lambda v: f"{v:.15g}"))
    worst, where = largest_difference(table)
    print(f"largest relative difference |brainlearn/NEST - 1|: {worst:.3g} ({where}); "
          f"seed {args.seed}, generation {args.generation}")
    if path is not None:
        print(f"-> {path}")
    if args.validation:
        rows = validation_rows(table, generation=args.generation, seed=args.seed)
        print(f"-> {append_validation(args.validation, rows)} (+{len(rows)} rows)")
    return 0


def handle_mnist_readout(args: argparse.Namespace) -> int:
    """Run ``brainlearn eprop mnist-readout``."""
    from brainlearn.models.eprop.mnist_readout import evaluate_run

    metrics = evaluate_run(args.dir, steps=args.steps, window=args.window, eta=args.eta,
                           epochs=args.epochs, seed=args.seed, device=args.device)
    print(f"e-prop readout: test accuracy {metrics['accuracy_eprop']:.4f} "
          f"({metrics['eprop_readout_seconds']:.1f} s training) -> {args.dir}/metrics.json")
    return 0


def register(subparsers) -> None:
    """Add ``brainlearn eprop`` with ``train``, ``nest`` and ``mnist-readout``."""
    parser = subparsers.add_parser(
        "eprop", help="online learning (e-prop) of recurrent spiking networks in Brian2",
        description="e-prop (Bellec et al. 2020): eligibility traces and learning signals as "
        "Brian2 equations, matched against NEST's e-prop models.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="eprop_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)

    train = sub.add_parser("train", help="train a task (checkpointed, resumable)",
                           epilog=TRAIN_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--task", choices=("sine-waves", "evidence-accumulation"))
    train.add_argument("--out", help="run directory to create")
    train.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    train.add_argument("--iterations", type=int, default=None,
                       help="weight updates (default 200 sine waves, 2000 evidence accumulation)")
    train.add_argument("--batch-size", type=int, default=None,
                       help="sequences per update (default 1 sine waves, 32 evidence acc.)")
    train.add_argument("--chunk", type=int, default=None,
                       help="iterations per binary execution and checkpoint")
    train.add_argument("--seed", type=int, default=1, help="data and weight seed (NEST's: 1)")
    train.add_argument("--stop-error", type=float, default=None,
                       help="early-stopping error (evidence accumulation default 0.07)")
    train.add_argument("--device", choices=("cpp_standalone", "runtime"),
                       default="cpp_standalone")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=handle_train)

    nest = sub.add_parser("nest", help="NEST live beside brainlearn: loss per iteration",
                          epilog=NEST_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    nest.add_argument("--device", choices=("cpp_standalone", "runtime"), default="runtime",
                      help="Brian2 device of the first generation (the newer one runs in "
                           "runtime mode, numpy)")
    nest.add_argument("--out", help="directory for the table (and the standalone builds)")
    nest.add_argument("--seed", type=int, default=1,
                      help="seed of weights, inputs and targets (NEST's tests: 1)")
    nest.add_argument("--iterations", type=int, default=None,
                      help="weight updates per protocol (default: NEST's 5)")
    nest.add_argument("--generation", choices=("bsshslm_2020", "2023"), default="bsshslm_2020",
                      help="NEST's e-prop models: the first generation (*_bsshslm_2020) or the "
                           "newer one (eprop_iaf, eprop_iaf_adapt, eprop_readout)")
    nest.add_argument("--validation", metavar="CSV",
                      help="append one row per protocol (worst difference, seed, command) to "
                           "this 'validated against NEST' table")
    nest.set_defaults(func=handle_nest)

    ro = sub.add_parser("mnist-readout", help="e-prop readout on an evaluated Diehl & Cook run",
                        epilog=READOUT_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ro.add_argument("dir", help="an evaluated `brainlearn mnist` run directory")
    ro.add_argument("--steps", type=int, default=50,
                    help="readout steps (1 ms) per image; the 350 ms window is binned into "
                         "them (50: 7 ms each, 700: the network's 0.5 ms)")
    ro.add_argument("--window", type=int, default=25, help="steps in which the error counts")
    ro.add_argument("--eta", type=float, default=0.05, help="learning rate")
    ro.add_argument("--epochs", type=int, default=1, help="passes over the training images")
    ro.add_argument("--seed", type=int, default=0, help="seed of the image order")
    ro.add_argument("--device", choices=("cpp_standalone", "runtime"),
                    default="cpp_standalone")
    ro.set_defaults(func=handle_mnist_readout)
