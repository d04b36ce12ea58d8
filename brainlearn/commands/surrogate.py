"""``brainlearn surrogate``: train a LIF network with surrogate gradients, evaluate it in Brian2."""

from __future__ import annotations

import argparse

from brainlearn.commands import int_list

__all__ = ["register", "handle_train", "handle_evaluate"]

EPILOG = """examples:
  brainlearn surrogate train --hidden 1000 --beta 0.95 --steps 25 --lr 5e-4 --epochs 1 \\
      --out runs/sg1000
  brainlearn surrogate evaluate runs/sg1000
"""

TRAIN_EPILOG = """Trains a 784-H-10 network of discrete LIF neurons (reset by subtraction) by
backpropagation through time with a surrogate gradient (PyTorch, the brainlearn[torch] extra),
and writes DIR/snn.npz, DIR/config.json (wall time per epoch, trainer test accuracy) and
DIR/train_metrics.csv. The defaults are snnTorch tutorial 5's network (93.87 % after one epoch).

examples:
  brainlearn surrogate train --out runs/sg1000
  brainlearn surrogate train --surrogate fast_sigmoid --loss count_ce --epochs 3 --out runs/sg_fs
  brainlearn surrogate train --hidden 100 --train-examples 2000 --source embedded --out /tmp/sg
"""

EVALUATE_EPILOG = """Runs the trained network on the test set twice: the trainer's forward pass
(PyTorch) and the same weights as DiscreteLIF groups in ONE Brian2 simulation, and writes
DIR/results.csv with the accuracy of both, their agreement (fraction of images with the same
prediction) and spikes per inference.

examples:
  brainlearn surrogate evaluate runs/sg1000
  brainlearn surrogate evaluate runs/sg1000 --brian2-examples 1000 --dtype float64
  brainlearn surrogate evaluate /tmp/sg --source embedded --device runtime
"""


def handle_train(args: argparse.Namespace) -> int:
    """Run ``brainlearn surrogate train``."""
    from brainlearn.models.surrogate import train_run

    metrics = train_run(args.out, hidden=args.hidden, beta=args.beta, threshold=args.threshold,
                        steps=args.steps, surrogate=args.surrogate,
                        surrogate_scale=args.surrogate_scale, loss=args.loss, lr=args.lr,
                        batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                        threads=args.threads, torch_device=args.torch_device,
                        source=args.source, train_examples=args.train_examples)
    print(f"SNN {'-'.join(map(str, metrics['sizes']))}: test accuracy "
          f"{metrics['test_accuracy']:.4f} ({metrics['test_examples']} images), "
          f"{metrics['seconds_per_epoch']:.0f} s per epoch -> {args.out}")
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    """Run ``brainlearn surrogate evaluate``."""
    from brainlearn.models.surrogate import evaluate_run

    if args.device == "runtime" and args.codegen:
        from brian2 import prefs

        prefs.codegen.target = args.codegen
    table = evaluate_run(args.dir, test_examples=args.test_examples, brian2=not args.no_brian2,
                         brian2_examples=args.brian2_examples, dtype=args.dtype,
                         device=args.device, lanes=args.lanes, source=args.source)
    shown = table[["implementation", "accuracy", "accuracy_membrane", "agreement",
                   "spikes_per_inference", "n_examples", "wall_seconds"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"-> {args.dir}/results.csv")
    return 0


def register(subparsers) -> None:
    """Add ``brainlearn surrogate`` with ``train`` and ``evaluate``."""
    parser = subparsers.add_parser(
        "surrogate", help="surrogate-gradient training of a LIF network, checked in Brian2",
        description="Train a feed-forward LIF network with surrogate gradients (BPTT, PyTorch) "
        "and evaluate the same network in Brian2.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="surrogate_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)

    train = sub.add_parser("train", help="train with surrogate gradients (PyTorch)",
                           epilog=TRAIN_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--hidden", type=int_list, default=(1000,),
                       help="hidden sizes, comma-separated (default 1000)")
    train.add_argument("--beta", type=float, default=0.95, help="membrane decay per step")
    train.add_argument("--threshold", type=float, default=1.0)
    train.add_argument("--steps", type=int, default=25, help="time steps per example")
    train.add_argument("--surrogate", choices=("atan", "fast_sigmoid", "rectangular"),
                       default="atan")
    train.add_argument("--surrogate-scale", type=float, default=None,
                       help="atan alpha (2), fast-sigmoid slope (25) or rectangle width (1)")
    train.add_argument("--loss", choices=("membrane_ce", "count_ce", "rate_mse"),
                       default="membrane_ce")
    train.add_argument("--lr", type=float, default=5e-4)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    train.add_argument("--torch-device", default="cpu",
                       help="PyTorch device for training (default cpu; cuda on a GPU machine)")
    train.add_argument("--train-examples", type=int, default=None,
                       help="use only the first N training images")
    train.add_argument("--data", "--source", dest="source", choices=("full", "embedded"), default="full",
                    help="full MNIST from the cache, or the embedded 1,000/500 subset")
    train.add_argument("--out", required=True, help="run directory to write")
    train.set_defaults(func=handle_train)

    ev = sub.add_parser("evaluate", help="accuracy of the trainer and of Brian2, agreement",
                        epilog=EVALUATE_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("dir", help="run directory written by `surrogate train`")
    ev.add_argument("--test-examples", type=int, default=None,
                    help="first K test images (default: all)")
    ev.add_argument("--brian2-examples", type=int, default=None,
                    help="run Brian2 on the first K of them only (default: all)")
    ev.add_argument("--no-brian2", action="store_true", help="trainer only")
    ev.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                    help="precision of the trainer's forward pass (Brian2 runs in float64)")
    ev.add_argument("--device", choices=("runtime", "cpp_standalone"), default="runtime")
    ev.add_argument("--codegen", choices=("numpy", "cython"), default="numpy",
                    help="Brian2 code generation target in runtime mode (default numpy)")
    ev.add_argument("--lanes", type=int, default=None,
                    help="parallel network copies (default: from a synapse budget)")
    ev.add_argument("--data", "--source", dest="source", choices=("full", "embedded"), default="full",
                    help="full MNIST from the cache, or the embedded 1,000/500 subset")
    ev.set_defaults(func=handle_evaluate)
