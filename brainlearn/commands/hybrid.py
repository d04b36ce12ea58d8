"""``brainlearn hybrid``: a BPTT-trained LIF output layer on a frozen Diehl & Cook STDP layer."""

from __future__ import annotations

import argparse

__all__ = ["register", "handle_train", "handle_evaluate"]

EPILOG = """examples:
  brainlearn mnist evaluate runs/n100          # records the hidden spikes the hybrid trains on
  brainlearn hybrid train runs/n100
  brainlearn hybrid evaluate runs/n100
  brainlearn compare runs/n100 --out runs/n100/compare
"""

TRAIN_EPILOG = """Trains 10 discrete LIF output neurons (reset by subtraction) by backpropagation
through time with an ATan surrogate gradient (PyTorch, the brainlearn[torch] extra) on the
spike trains the run's excitatory layer produced for its label-assignment (training) images
(assign_spikes.parquet, binned into --steps steps per 350 ms window). The STDP layer stays
frozen. Writes DIR/hybrid/layer.npz, config.json, metrics.json and train_metrics.csv; the
run's own files are left as they are. A run evaluated before brainlearn recorded spike timing
needs `brainlearn mnist evaluate DIR` again.

examples:
  brainlearn hybrid train runs/n100
  brainlearn hybrid train runs/n100 --validation 0.1 --epochs 5     # hold out 10 %
  brainlearn hybrid train runs/demo --epochs 20 --batch-size 64    # embedded-subset run
"""

EVALUATE_EPILOG = """Scores the trained layer on the run's recorded test spikes twice: the trainer's
forward pass (PyTorch, float64) and the same layer in Brian2 (a SpikeGeneratorGroup replays
the binned hidden spikes through Synapses into a DiscreteLIF NeuronGroup), and writes
DIR/hybrid/results.csv with both accuracies and their agreement (fraction of images with the
same prediction). `brainlearn compare DIR` shows the hybrid as a row.

examples:
  brainlearn hybrid evaluate runs/n100
  brainlearn hybrid evaluate runs/n100 --brian2-examples 1000 --codegen cython
"""


def handle_train(args: argparse.Namespace) -> int:
    """Run ``brainlearn hybrid train``."""
    from brainlearn.models.hybrid import train_run

    metrics = train_run(args.dir, steps=args.steps, beta=args.beta, threshold=args.threshold,
                        bias=args.bias, loss=args.loss, lr=args.lr,
                        batch_size=args.batch_size, epochs=args.epochs,
                        schedule=args.schedule, validation=args.validation, seed=args.seed,
                        threads=args.threads, progress=not args.no_progress)
    text = (f"hybrid: training accuracy {metrics['train_accuracy']:.4f} "
            f"({metrics['train_examples']} images")
    if metrics["validation_accuracy"] is not None:
        text += f", validation {metrics['validation_accuracy']:.4f}"
    print(f"{text}), {metrics['train_seconds']:.1f} s training -> {args.dir}/hybrid")
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    """Run ``brainlearn hybrid evaluate``."""
    from brainlearn.models.hybrid import evaluate_run

    table = evaluate_run(args.dir, brian2=not args.no_brian2, examples=args.test_examples,
                         brian2_examples=args.brian2_examples, device=args.device,
                         lanes=args.lanes, codegen=args.codegen)
    shown = table[["implementation", "accuracy", "agreement", "spikes_per_inference",
                   "output_spikes_per_inference", "n_examples", "wall_seconds"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"-> {args.dir}/hybrid/results.csv")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def register(subparsers) -> None:
    """Add ``brainlearn hybrid`` with ``train`` and ``evaluate``."""
    parser = subparsers.add_parser(
        "hybrid", help="STDP + BP hybrid: BPTT-trained LIF output on a Diehl & Cook layer",
        description="Train a spiking LIF output layer by surrogate-gradient BPTT on the "
        "recorded spike trains of a finished Diehl & Cook run (the STDP layer frozen), and "
        "check it in Brian2.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="hybrid_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)

    train = sub.add_parser("train", help="train the output layer (PyTorch BPTT)",
                           epilog=TRAIN_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("dir", help="an evaluated `brainlearn mnist` run directory")
    train.add_argument("--steps", type=_positive_int, default=350,
                       help="steps per image: the 350 ms window in 1 ms bins (default 350)")
    train.add_argument("--beta", type=float, default=0.95, help="membrane decay per step")
    train.add_argument("--threshold", type=float, default=1.0)
    train.add_argument("--bias", action="store_true",
                       help="train a constant input per output neuron (default none: as "
                            "accurate on held-out images, about 6x fewer output spikes)")
    train.add_argument("--loss", choices=("count_ce", "membrane_ce"), default="count_ce",
                       help="cross-entropy on output spike counts (default) or on the "
                            "membrane at every step")
    train.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    train.add_argument("--batch-size", type=_positive_int, default=128)
    train.add_argument("--epochs", type=_positive_int, default=5)
    train.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                       help="learning rate: half-cosine decay to 0 over training (default) "
                            "or constant")
    train.add_argument("--validation", type=float, default=0.0,
                       help="fraction of the training images held out and scored per epoch")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the initial weights, the split and the batch order")
    train.add_argument("--threads", type=_positive_int, default=1,
                       help="PyTorch CPU threads (default 1: the 10-neuron scan gains nothing "
                            "from more)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=handle_train)

    ev = sub.add_parser("evaluate", help="accuracy of the trainer and of Brian2, agreement",
                        epilog=EVALUATE_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("dir", help="a run directory with a trained hybrid (`hybrid train`)")
    ev.add_argument("--test-examples", type=_positive_int, default=None,
                    help="first K test images (default: all)")
    ev.add_argument("--brian2-examples", type=_positive_int, default=None,
                    help="run Brian2 on the first K of them only (default: all)")
    ev.add_argument("--no-brian2", action="store_true", help="trainer only")
    ev.add_argument("--device", choices=("runtime", "cpp_standalone"), default="runtime")
    ev.add_argument("--codegen", choices=("numpy", "cython"), default="numpy",
                    help="Brian2 code generation target in runtime mode (default numpy)")
    ev.add_argument("--lanes", type=_positive_int, default=None,
                    help="parallel copies of the layer (default: from a synapse budget)")
    ev.set_defaults(func=handle_evaluate)
