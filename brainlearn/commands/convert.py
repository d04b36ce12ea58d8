"""``brainlearn convert``: train a ReLU MLP on MNIST and evaluate it converted to IF neurons."""

from __future__ import annotations

import argparse

from brainlearn.commands import float_list, int_list, str_list

__all__ = ["register", "handle_train", "handle_evaluate", "handle_cnn"]

EPILOG = """examples:
  brainlearn convert train --hidden 500 --epochs 20 --seed 0 --out runs/mlp500
  brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256 --input analog \\
      --norm 99.9,max --reset subtract,zero
"""

TRAIN_EPILOG = """Trains a 784-H-10 ReLU MLP (scikit-learn MLPClassifier: Adam from --lr, annealed per epoch
on a cosine by default, L2 penalty --alpha) and writes
DIR/mlp.npz, DIR/config.json and DIR/train_metrics.csv (training curve and test accuracy).

examples:
  brainlearn convert train --hidden 500 --epochs 20 --seed 0 --out runs/mlp500
  brainlearn convert train --hidden 64 --epochs 5 --source embedded --out /tmp/tiny
"""

CNN_EPILOG = """Trains the small MNIST CNN (conv 1->32, pool, conv 32->64, pool, fc 3136->128,
fc 128->10; PyTorch on the CPU, the brainlearn[torch] extra), converts it (99.9th-percentile
normalisation, IF neurons with reset by subtraction, convolutions unrolled into Brian2
Synapses, pools as IF layers) and evaluates it twice: the same IF network clock-driven in
PyTorch at every --fast-steps for every --fast-v-init (cheap; also on the --validation images
held out of training, where options are chosen), and in Brian2 at --steps with --v-init and
--readout on the first --brian2-examples test images. Writes DIR/cnn.npz,
DIR/train_metrics.csv (per epoch: loss, lr, seconds, validation accuracy), DIR/results.csv
(accuracy per split, simulator, v_init and T; spikes and ms per image) and
DIR/accuracy_vs_steps.png. --weights reuses a trained cnn.npz instead of training.

examples:
  brainlearn convert cnn --data embedded --epochs 15 --test-examples 100 --out runs/cnn_demo
  brainlearn convert cnn --epochs 24 --batch-size 128 --lr 3e-3 --schedule onecycle --shift 1 \\
      --validation 5000 --threads 2 --out runs/cnn
  brainlearn convert cnn --weights runs/cnn/cnn.npz --validation 5000 --brian2-examples 1000 \\
      --out runs/cnn_eval
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
    from brainlearn.models.conversion import MLPRunConfig, train_run

    metrics = train_run(args.out, MLPRunConfig(
        hidden=args.hidden, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
        lr=args.lr, alpha=args.alpha, schedule=args.schedule, source=args.source,
        train_examples=args.train_examples))
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


#: options of ``brainlearn convert cnn`` that are fields of CNNRunConfig
CNN_FIELDS = ("channels", "hidden", "epochs", "batch_size", "lr", "schedule", "shift",
              "weight_decay", "validation", "seed", "threads", "weights", "steps", "fast_steps",
              "fast_v_init", "v_init", "readout", "norm", "test_examples", "brian2_examples",
              "fast_examples", "fast_splits", "precision", "norm_examples", "chunk", "device",
              "source")


def handle_cnn(args: argparse.Namespace) -> int:
    """Run ``brainlearn convert cnn``."""
    from brainlearn.models.conversion import CNNRunConfig, train_run

    try:  # a bad option is a usage error, reported before anything is loaded or written
        config = CNNRunConfig(**{name: getattr(args, name) for name in CNN_FIELDS})
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    metrics = train_run(args.out, config)
    lines = [f"ANN {metrics['ann_accuracy']:.4f} ({metrics['test_examples']} test images), "
             f"rate model {metrics['rate_accuracy']:.4f}"]
    for key, value in metrics.items():
        if key.startswith(("torch_accuracy_T", "brian2_accuracy_T")):
            lines.append(f"{key.replace('_accuracy_T', ' T=')}: {value:.4f}")
    print("\n".join(lines))
    print(f"-> {args.out}/results.csv, {args.out}/accuracy_vs_steps.png")
    return 0


def register(subparsers) -> None:
    """Add ``brainlearn convert`` with ``train``, ``evaluate`` and ``cnn``."""
    parser = subparsers.add_parser(
        "convert", help="ANN-to-SNN conversion of a ReLU MLP on MNIST",
        description="Train a ReLU MLP and evaluate it converted to IF neurons in Brian2.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="convert_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)

    _add_train(sub)
    _add_cnn(sub)
    _add_evaluate(sub)


def _add_train(sub) -> None:
    train = sub.add_parser("train", help="train the MLP (scikit-learn)", epilog=TRAIN_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--hidden", type=int_list, default=(500,),
                       help="hidden sizes, comma-separated (default 500)")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="run directory to write")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=2e-3,
                       help="Adam's learning rate, the start of the cosine (default 2e-3)")
    train.add_argument("--alpha", type=float, default=0.03,
                       help="L2 penalty of MLPClassifier (default 0.03)")
    train.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                       help="learning rate per epoch: cosine annealing from --lr (default) or "
                            "constant (with --lr 1e-3 --alpha 1e-4: the recipe before)")
    train.add_argument("--train-examples", type=int, default=None,
                       help="use only the first N training images")
    train.add_argument("--data", "--source", dest="source", choices=("full", "embedded"), default="full",
                    help="full MNIST from the cache, or the embedded 1,000/500 subset")
    train.set_defaults(func=handle_train)


def _add_cnn(sub) -> None:
    cnn = sub.add_parser("cnn", help="train, convert and evaluate the small MNIST CNN (torch)",
                         epilog=CNN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cnn.add_argument("--out", required=True, help="run directory to write")
    cnn.add_argument("--channels", type=int_list, default=(32, 64),
                     help="channels of the two convolutions (default 32,64)")
    cnn.add_argument("--hidden", type=int, default=128)
    cnn.add_argument("--epochs", type=int, default=3)
    cnn.add_argument("--batch-size", type=int, default=64)
    cnn.add_argument("--lr", type=float, default=1e-3,
                     help="Adam learning rate (the peak with --schedule onecycle)")
    cnn.add_argument("--schedule", choices=("constant", "onecycle", "cosine"), default="constant",
                     help="learning-rate schedule, stepped per minibatch (default constant)")
    cnn.add_argument("--shift", type=int, default=0,
                     help="random translation of training images by up to N pixels (default 0)")
    cnn.add_argument("--weight-decay", type=float, default=0.0,
                     help="AdamW decoupled weight decay (default 0: Adam)")
    cnn.add_argument("--validation", type=int, default=0,
                     help="hold out N seeded training images, scored per epoch and by the "
                          "PyTorch IF simulation (default 0)")
    cnn.add_argument("--seed", type=int, default=0)
    cnn.add_argument("--steps", type=int_list, default=(16, 32, 64),
                     help="Brian2 checkpoints T (default 16,32,64)")
    cnn.add_argument("--fast-steps", type=int_list, default=(8, 16, 32, 64, 128, 256),
                     help="PyTorch IF checkpoints T (default 8,...,256)")
    cnn.add_argument("--v-init", type=float, default=0.5,
                     help="initial membrane / threshold in Brian2 (default 0.5, Bu et al. 2022)")
    cnn.add_argument("--fast-v-init", type=float_list, default=(0.0, 0.5),
                     help="initial membranes of the PyTorch IF runs (default 0,0.5)")
    cnn.add_argument("--readout", choices=("count", "potential"), default="count",
                     help="decode the output spike count or its accumulated input")
    cnn.add_argument("--norm", default="99.9", help="'max' or a percentile (default 99.9)")
    cnn.add_argument("--test-examples", type=int, default=None,
                     help="first K test images (default: all)")
    cnn.add_argument("--brian2-examples", type=int, default=None,
                     help="run Brian2 on the first K of them (default: all; 0 skips Brian2)")
    cnn.add_argument("--fast-examples", type=int, default=None,
                     help="PyTorch IF runs on the first K images of each split (default: all)")
    cnn.add_argument("--fast-splits", type=str_list(("test", "validation")),
                     default=("test", "validation"),
                     help="splits of the PyTorch IF runs (default test,validation; test needed)")
    cnn.add_argument("--precision", choices=("float32", "float64"), default="float32",
                     help="of the PyTorch IF runs (float64 reproduces Brian2's spikes exactly; "
                          "float32, the default, is twice as fast)")
    cnn.add_argument("--chunk", type=int, default=2500,
                     help="test images per Brian2 run, each a build of ~3 min; memory ~200 MB "
                          "per 1,000 images (default 2500)")
    cnn.add_argument("--norm-examples", type=int, default=10000,
                     help="training images for the normalisation (seeded subset)")
    cnn.add_argument("--device", choices=("cpp_standalone", "runtime"), default="cpp_standalone")
    cnn.add_argument("--threads", type=int, default=1, help="PyTorch threads")
    cnn.add_argument("--weights", default=None,
                     help="a cnn.npz to convert instead of training one")
    cnn.add_argument("--data", "--source", dest="source", choices=("full", "embedded"),
                     default="full", help="full MNIST from the cache, or the embedded subset")
    cnn.set_defaults(func=handle_cnn)


def _add_evaluate(sub) -> None:
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
