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

NEST_EPILOG = """Runs NEST's e-prop test protocols (sine-wave regression, evidence accumulation with
batch size 1 and 2: same inputs, weights, parameters and update schedule) in Brian2 and prints
the loss per iteration beside the losses NEST's test suite asserts. Another --seed or more
--iterations train the same protocols on other draws or for longer (no NEST column there).

examples:
  brainlearn eprop nest
  brainlearn eprop nest --device runtime --out runs/eprop_nest
  brainlearn eprop nest --seed 2 --iterations 10
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
    """Run ``brainlearn eprop nest``."""
    from brainlearn.models.eprop.nest import write_comparison

    table, path = write_comparison(args.out, device_name=args.device, seed=args.seed,
                                   iterations=args.iterations)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.12g}"))
    if path is not None:
        print(f"-> {path}")
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

    nest = sub.add_parser("nest", help="NEST's test protocols: loss per iteration vs NEST",
                          epilog=NEST_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    nest.add_argument("--device", choices=("cpp_standalone", "runtime"), default="runtime")
    nest.add_argument("--out", help="directory for the table (and the standalone builds)")
    nest.add_argument("--seed", type=int, default=1,
                      help="seed of weights, inputs and targets (NEST's: 1; another seed has "
                           "no NEST column)")
    nest.add_argument("--iterations", type=int, default=None,
                      help="weight updates per protocol (default: NEST's 5)")
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
