"""``brainlearn convert``: train a ReLU MLP on MNIST and evaluate it converted to IF neurons."""

from __future__ import annotations

import argparse

from brainlearn.commands import int_list, str_list

__all__ = ["register", "handle_train", "handle_evaluate", "handle_cnn"]

EPILOG = """examples:
  brainlearn convert train --hidden 500 --epochs 20 --seed 0 --out runs/mlp500
  brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256 --input analog \\
      --norm 99.9,max --reset subtract,zero
"""

TRAIN_EPILOG = """Trains a 784-H-10 ReLU MLP (scikit-learn MLPClassifier: Adam, L2 penalty --alpha) and writes
DIR/mlp.npz, DIR/config.json and DIR/train_metrics.csv (training curve and test accuracy).

examples:
  brainlearn convert train --hidden 500 --epochs 20 --seed 0 --out runs/mlp500
  brainlearn convert train --hidden 64 --epochs 5 --source embedded --out /tmp/tiny
"""

CNN_EPILOG = """Trains the small MNIST CNN (conv 1->32, pool, conv 32->64, pool, fc 3136->128,
fc 128->10; PyTorch on the CPU, the brainlearn[torch] extra), converts it (99.9th-percentile
normalisation, IF neurons with reset by subtraction, convolutions unrolled into Brian2
Synapses, pools as IF layers) and evaluates it in Brian2 at every --steps. Writes
DIR/cnn.npz, DIR/train_metrics.csv, DIR/results.csv (accuracy per T, spikes and ms per image).

examples:
  brainlearn convert cnn --data embedded --epochs 15 --test-examples 100 --out runs/cnn_demo
  brainlearn convert cnn --epochs 3 --test-examples 1000 --out runs/cnn
"""

EVALUATE_EPILOG = """Normalises the MLP in DIR with training data, runs every combination of
--input x --norm x --reset as IF networks in ONE Brian2 simulation over the test images, and
writes DIR/results.csv (rows replace earlier rows of the same configuration) and
DIR/accuracy_vs_steps.png. Comma-separated lists are accepted for --input, --norm and --reset.

examples:
  brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256 --input analog --norm 99.9
  brainlearn convert evaluate runs/mlp500 --input poisson --norm 99.9 --test-examples 500
  brainlearn convert evaluate runs/mlp500 --norm max,99.9 --reset subtract,zero --device runtime \\
      --test-examples 100
"""


def handle_train(args: argparse.Namespace) -> int:
    """Run ``brainlearn convert train``."""
    from brainlearn.models.conversion import train_run

    metrics = train_run(args.out, hidden=args.hidden, epochs=args.epochs, seed=args.seed,
                        batch_size=args.batch_size, lr=args.lr, alpha=args.alpha,
                        source=args.source, train_examples=args.train_examples)
    print(f"MLP {'-'.join(map(str, metrics['sizes']))}: test accuracy "
          f"{metrics['test_accuracy']:.4f} ({metrics['test_examples']} images), trained in "
          f"{metrics['train_seconds']:.0f} s -> {args.out}")
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    """Run ``brainlearn convert evaluate``."""
    from brainlearn.models.conversion import evaluate_run

    table = evaluate_run(args.dir, steps=args.steps, inputs=args.input, norms=args.norm,
                         resets=args.reset, test_examples=args.test_examples,
                         norm_examples=args.norm_examples, device=args.device,
                         lanes=args.lanes, seed=args.seed, source=args.source)
    shown = table[["steps", "input", "norm", "reset", "accuracy", "ann_accuracy",
                   "spikes_per_example", "n_examples"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"-> {args.dir}/results.csv, {args.dir}/accuracy_vs_steps.png")
    return 0


def handle_cnn(args: argparse.Namespace) -> int:
    """Run ``brainlearn convert cnn``."""
    from brainlearn.models.conversion_cnn import cnn_run

    table = cnn_run(args.out, channels=args.channels, hidden=args.hidden, epochs=args.epochs,
                    batch_size=args.batch_size, lr=args.lr, seed=args.seed, steps=args.steps,
                    norm=args.norm, test_examples=args.test_examples,
                    norm_examples=args.norm_examples, device=args.device,
                    threads=args.threads, source=args.source)
    print(table[["steps", "accuracy", "ann_accuracy", "spikes_per_example", "ms_per_image",
                 "n_examples"]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"-> {args.out}/results.csv")
    return 0


def register(subparsers) -> None:
    """Add ``brainlearn convert`` with ``train`` and ``evaluate``."""
    parser = subparsers.add_parser(
        "convert", help="ANN-to-SNN conversion of a ReLU MLP on MNIST",
        description="Train a ReLU MLP and evaluate it converted to IF neurons in Brian2.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="convert_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)

    train = sub.add_parser("train", help="train the MLP (scikit-learn)", epilog=TRAIN_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--hidden", type=int_list, default=(500,),
                       help="hidden sizes, comma-separated (default 500)")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="run directory to write")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--alpha", type=float, default=1e-4,
                       help="L2 penalty of MLPClassifier (default 1e-4)")
    train.add_argument("--train-examples", type=int, default=None,
                       help="use only the first N training images")
    train.add_argument("--data", "--source", dest="source", choices=("full", "embedded"), default="full",
                    help="full MNIST from the cache, or the embedded 1,000/500 subset")
    train.set_defaults(func=handle_train)

    cnn = sub.add_parser("cnn", help="train, convert and evaluate the small MNIST CNN (torch)",
                         epilog=CNN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cnn.add_argument("--out", required=True, help="run directory to write")
    cnn.add_argument("--channels", type=int_list, default=(32, 64),
                     help="channels of the two convolutions (default 32,64)")
    cnn.add_argument("--hidden", type=int, default=128)
    cnn.add_argument("--epochs", type=int, default=3)
    cnn.add_argument("--batch-size", type=int, default=64)
    cnn.add_argument("--lr", type=float, default=1e-3)
    cnn.add_argument("--seed", type=int, default=0)
    cnn.add_argument("--steps", type=int_list, default=(8, 16, 32, 64))
    cnn.add_argument("--norm", default="99.9", help="'max' or a percentile (default 99.9)")
    cnn.add_argument("--test-examples", type=int, default=None,
                     help="first K test images (default: all)")
    cnn.add_argument("--norm-examples", type=int, default=10000,
                     help="training images for the normalisation (seeded subset)")
    cnn.add_argument("--device", choices=("cpp_standalone", "runtime"), default="cpp_standalone")
    cnn.add_argument("--threads", type=int, default=1, help="PyTorch threads")
    cnn.add_argument("--data", "--source", dest="source", choices=("full", "embedded"),
                     default="full", help="full MNIST from the cache, or the embedded subset")
    cnn.set_defaults(func=handle_cnn)

    ev = sub.add_parser("evaluate", help="evaluate the converted SNN", epilog=EVALUATE_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("dir", help="run directory written by `convert train`")
    ev.add_argument("--steps", type=int_list, default=(8, 16, 32, 64, 128, 256))
    ev.add_argument("--input", type=str_list(("analog", "poisson")), default=("analog",))
    ev.add_argument("--norm", type=str_list(()), default=("99.9",),
                    help="'max' or percentiles, comma-separated (default 99.9)")
    ev.add_argument("--reset", type=str_list(("subtract", "zero")), default=("subtract",))
    ev.add_argument("--test-examples", type=int, default=None,
                    help="first K test images (default: all)")
    ev.add_argument("--norm-examples", type=int, default=10000,
                    help="training images for the normalisation (seeded subset)")
    ev.add_argument("--device", choices=("cpp_standalone", "runtime"), default="cpp_standalone")
    ev.add_argument("--lanes", type=int, default=None,
                    help="parallel network copies (default: from a synapse budget)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--data", "--source", dest="source", choices=("full", "embedded"), default="full",
                    help="full MNIST from the cache, or the embedded 1,000/500 subset")
    ev.set_defaults(func=handle_evaluate)
