"""``brainlearn convert``: train a ReLU MLP on MNIST and evaluate it converted to IF neurons."""

from __future__ import annotations

import argparse

__all__ = ["register", "handle_train", "handle_evaluate"]

EPILOG = """examples:
  brainlearn convert train --hidden 500 --epochs 20 --seed 0 --out runs/mlp500
  brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256 --input analog \\
      --norm 99.9,max --reset subtract,zero
"""

TRAIN_EPILOG = """Trains a 784-H-10 ReLU MLP (numpy, Adam, cosine learning rate, dropout) and writes
DIR/mlp.npz, DIR/config.json and DIR/train_metrics.csv (training curve and test accuracy).

examples:
  brainlearn convert train --hidden 500 --epochs 20 --seed 0 --out runs/mlp500
  brainlearn convert train --hidden 64 --epochs 5 --source embedded --out /tmp/tiny
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


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _str_list(choices):
    def parse(text: str) -> tuple[str, ...]:
        values = tuple(v.strip() for v in text.split(",") if v.strip())
        bad = [v for v in values if choices and v not in choices]
        if not values or bad:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)}, got {text!r}")
        return values
    return parse


def _write_atomic(path, write) -> None:
    from brainlearn.atomic import atomic_path

    with atomic_path(path) as tmp:
        write(tmp)


def handle_train(args: argparse.Namespace) -> int:
    """Run ``brainlearn convert train``."""
    import json
    import time
    from pathlib import Path

    from brainlearn.conversion import preprocess, train_mlp
    from brainlearn.data import load_mnist

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train = load_mnist("train", n=args.train_examples, source=args.source)
    x_test, y_test = load_mnist("test", source=args.source)
    start = time.perf_counter()
    mlp = train_mlp(preprocess(x_train), y_train, hidden=args.hidden, epochs=args.epochs,
                    batch_size=args.batch_size, lr=args.lr, dropout=args.dropout,
                    seed=args.seed, progress=True)
    wall = time.perf_counter() - start
    test_accuracy = mlp.score(preprocess(x_test), y_test)
    mlp.save(out / "mlp.npz")
    metrics = mlp.history.copy()
    metrics["test_accuracy"] = float("nan")
    metrics.loc[metrics.index[-1], "test_accuracy"] = test_accuracy
    _write_atomic(out / "train_metrics.csv", lambda p: metrics.to_csv(p, index=False))
    config = {"hidden": list(args.hidden), "epochs": args.epochs, "seed": args.seed,
              "batch_size": args.batch_size, "lr": args.lr, "dropout": args.dropout,
              "source": args.source, "train_examples": len(x_train),
              "test_accuracy": test_accuracy, "train_seconds": round(wall, 1)}
    _write_atomic(out / "config.json",
                  lambda p: Path(p).write_text(json.dumps(config, indent=2) + "\n"))
    print(f"MLP {'-'.join(map(str, mlp.sizes))}: test accuracy {test_accuracy:.4f} "
          f"({len(x_test)} images), trained in {wall:.0f} s -> {out / 'mlp.npz'}")
    return 0


def plot_accuracy(results, path) -> None:
    """Accuracy versus time steps, one line per (input, norm, reset), ANN as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for (inp, norm, reset), part in results.groupby(["input", "norm", "reset"]):
        part = part.sort_values("steps")
        ax.plot(part["steps"], 100 * part["accuracy"], marker="o",
                label=f"{inp}, norm {norm}, reset {reset}")
    ann = results["ann_accuracy"].iloc[0]
    ax.axhline(100 * ann, color="k", ls="--", lw=1, label=f"ANN {100 * ann:.2f} %")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(max(0, 100 * results["accuracy"].min() - 2), 100)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _write_atomic(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    plt.close(fig)


def handle_evaluate(args: argparse.Namespace) -> int:
    """Run ``brainlearn convert evaluate``."""
    import time
    from pathlib import Path

    import pandas as pd

    from brainlearn.conversion import MLP, evaluate, parse_norm
    from brainlearn.data import load_mnist

    run_dir = Path(args.dir)
    mlp = MLP.load(run_dir / "mlp.npz")
    for norm in args.norm:
        parse_norm(norm)
    x_test, y_test = load_mnist("test", n=args.test_examples, source=args.source)
    x_norm, _ = load_mnist("train", n=args.norm_examples, seed=args.seed, source=args.source)
    start = time.perf_counter()
    table = evaluate(mlp, x_test, y_test, x_norm, steps=args.steps, inputs=args.input,
                     norms=args.norm, resets=args.reset, device=args.device, lanes=args.lanes,
                     seed=args.seed)
    wall = time.perf_counter() - start
    table["wall_seconds"] = round(wall, 1)
    table["device"] = args.device
    path = run_dir / "results.csv"
    if path.exists():
        old = pd.read_csv(path, dtype={"norm": str})
        key = ["steps", "input", "norm", "reset"]
        merged = old.merge(table[key], on=key, how="left", indicator=True)
        old = old[(merged["_merge"] == "left_only").to_numpy()]
        table = pd.concat([old, table], ignore_index=True)
    table = table.sort_values(["input", "norm", "reset", "steps"]).reset_index(drop=True)
    _write_atomic(path, lambda p: table.to_csv(p, index=False))
    plot_accuracy(table, run_dir / "accuracy_vs_steps.png")
    shown = table[["steps", "input", "norm", "reset", "accuracy", "ann_accuracy",
                   "spikes_per_example", "n_examples"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"evaluated in {wall:.0f} s -> {path}")
    return 0


def register(subparsers) -> None:
    """Add ``brainlearn convert`` with ``train`` and ``evaluate``."""
    parser = subparsers.add_parser(
        "convert", help="ANN-to-SNN conversion of a ReLU MLP on MNIST",
        description="Train a ReLU MLP and evaluate it converted to IF neurons in Brian2.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="convert_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)

    train = sub.add_parser("train", help="train the MLP (numpy)", epilog=TRAIN_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--hidden", type=_int_list, default=(500,),
                       help="hidden sizes, comma-separated (default 500)")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="run directory to write")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--dropout", type=float, default=0.2)
    train.add_argument("--train-examples", type=int, default=None,
                       help="use only the first N training images")
    train.add_argument("--source", choices=("full", "embedded"), default="full")
    train.set_defaults(func=handle_train)

    ev = sub.add_parser("evaluate", help="evaluate the converted SNN", epilog=EVALUATE_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("dir", help="run directory written by `convert train`")
    ev.add_argument("--steps", type=_int_list, default=(8, 16, 32, 64, 128, 256))
    ev.add_argument("--input", type=_str_list(("analog", "poisson")), default=("analog",))
    ev.add_argument("--norm", type=_str_list(()), default=("99.9",),
                    help="'max' or percentiles, comma-separated (default 99.9)")
    ev.add_argument("--reset", type=_str_list(("subtract", "zero")), default=("subtract",))
    ev.add_argument("--test-examples", type=int, default=None,
                    help="first K test images (default: all)")
    ev.add_argument("--norm-examples", type=int, default=10000,
                    help="training images for the normalisation (seeded subset)")
    ev.add_argument("--device", choices=("cpp_standalone", "runtime"), default="cpp_standalone")
    ev.add_argument("--lanes", type=int, default=None,
                    help="parallel network copies (default: from a synapse budget)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--source", choices=("full", "embedded"), default="full")
    ev.set_defaults(func=handle_evaluate)
