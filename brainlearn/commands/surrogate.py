"""``brainlearn surrogate``: train a LIF network with surrogate gradients, evaluate it in Brian2."""

from __future__ import annotations

import argparse

from brainlearn.commands import int_list
from brainlearn.models.surrogate.presets import PRESETS

__all__ = ["register", "handle_train", "handle_evaluate", "hidden_list"]

EPILOG = """examples:
  brainlearn surrogate train --hidden 1000 --beta 0.95 --steps 25 --lr 5e-4 --epochs 1 \\
      --out runs/sg1000
  brainlearn surrogate evaluate runs/sg1000
  brainlearn surrogate train --preset spikingjelly-single --out runs/sj_single
  brainlearn surrogate evaluate runs/sj_single --brian2-examples 1000
"""


TRAIN_EPILOG = """Trains a 784-H-10 network of discrete LIF neurons by backpropagation through
time with a surrogate gradient (PyTorch, the brainlearn[torch] extra), and writes DIR/snn.npz,
DIR/config.json (the preset and every setting), DIR/train_metrics.csv (loss, train and test
accuracy per epoch), DIR/accuracy.png and DIR/checkpoint.pt (after every epoch; running the
same command again resumes a stopped run, or continues it with a larger --epochs).

presets (--preset NAME sets every setting of the tutorial; explicit flags override):
  snntorch-tutorial5      784-1000-10, snnTorch Leaky (beta 0.95, reset by subtraction),
                          25 steps, static image current, ATan, membrane cross-entropy,
                          Adam 5e-4, batch 128, 1 epoch: 93.87 % (the default)
  spikingjelly-single     784-10 without bias, SpikingJelly LIFNode (tau 2, hard reset),
                          ATan, Poisson input, MSE of the firing rate, T 100, Adam 1e-3,
                          batch 64, 100 epochs: 92.9 % (best epoch)
  spikingjelly-two-layer  784-196-10 without bias, LIFNode tau 100 (100 ms), sigmoid
                          surrogate (alpha 4), Poisson input, rate MSE, T 100, Adam 1e-3,
                          batch 64, 100 epochs: "92 %"

examples:
  brainlearn surrogate train --out runs/sg1000
  brainlearn surrogate train --preset spikingjelly-single --out runs/sj_single
  brainlearn surrogate train --preset spikingjelly-two-layer --epochs 10 --out runs/sj_two
  brainlearn surrogate train --preset spikingjelly-single --data embedded --epochs 20 \\
      --out runs/sj_demo
  brainlearn surrogate train --surrogate fast_sigmoid --loss count_ce --epochs 3 --out runs/sg_fs
  brainlearn surrogate train --hidden 100 --train-examples 2000 --source embedded --out /tmp/sg
"""

EVALUATE_EPILOG = """Runs the trained network on the test set twice: the trainer's forward pass
(PyTorch) and the same weights as DiscreteLIF (snnTorch) or SpikingJellyLIF groups in Brian2
(lanes of copies side by side), and writes DIR/results.csv with the accuracy of both, their
agreement (fraction of images with the same prediction), spikes per inference and ms per
image. With Poisson input both get the same input spike trains (--seed).

examples:
  brainlearn surrogate evaluate runs/sg1000
  brainlearn surrogate evaluate runs/sg1000 --brian2-examples 1000 --dtype float64
  brainlearn surrogate evaluate /tmp/sg --source embedded --device runtime
  brainlearn surrogate evaluate runs/sj_demo --data embedded --brian2-examples 200
"""


def hidden_list(text: str) -> tuple[int, ...]:
    """argparse type: hidden sizes ``1000`` or ``500,100``; ``none`` (or empty) for no hidden
    layer."""
    if text.strip().lower() in ("", "none", "0"):
        return ()
    return int_list(text)


def handle_train(args: argparse.Namespace) -> int:
    """Run ``brainlearn surrogate train``."""
    from brainlearn.models.surrogate import train_run

    metrics = train_run(args.out, preset=args.preset, hidden=args.hidden, beta=args.beta,
                        threshold=args.threshold, steps=args.steps, surrogate=args.surrogate,
                        surrogate_scale=args.surrogate_scale, loss=args.loss, lr=args.lr,
                        batch_size=args.batch_size, epochs=args.epochs, neuron=args.neuron,
                        tau=args.tau, decay_input=args.decay_input, reset=args.reset,
                        detach_reset=args.detach_reset, encoder=args.encoder, bias=args.bias,
                        seed=args.seed, threads=args.threads, torch_device=args.torch_device,
                        source=args.source, train_examples=args.train_examples,
                        test_examples=args.test_examples)
    print(f"SNN {'-'.join(map(str, metrics['sizes']))} ({metrics['preset']}): test accuracy "
          f"{metrics['test_accuracy']:.4f} ({metrics['test_examples']} images; best "
          f"{metrics['best_test_accuracy']:.4f} at epoch {metrics['best_epoch']}), "
          f"{metrics['seconds_per_epoch']:.0f} s per epoch -> {args.out}")
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    """Run ``brainlearn surrogate evaluate``."""
    from brainlearn.models.surrogate import evaluate_run

    table = evaluate_run(args.dir, test_examples=args.test_examples, brian2=not args.no_brian2,
                         brian2_examples=args.brian2_examples, dtype=args.dtype,
                         device=args.device, lanes=args.lanes, source=args.source,
                         seed=args.seed, codegen=args.codegen)
    shown = table[["implementation", "accuracy", "accuracy_membrane", "agreement",
                   "spikes_per_inference", "n_examples", "wall_seconds", "ms_per_image"]]
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
    train.add_argument("--preset", default=None, metavar="NAME",
                       help=f"a tutorial's settings: {', '.join(PRESETS)} "
                       "(default snntorch-tutorial5)")
    train.add_argument("--hidden", type=hidden_list, default=None,
                       help="hidden sizes, comma-separated, or 'none' for 784-10 (tutorial 5: "
                       "1000)")
    train.add_argument("--neuron", choices=("snntorch", "spikingjelly"), default=None,
                       help="snnTorch Leaky (DiscreteLIF) or SpikingJelly LIFNode")
    train.add_argument("--beta", type=float, default=None,
                       help="membrane decay per step, snntorch neuron (0.95)")
    train.add_argument("--tau", type=float, default=None,
                       help="membrane time constant in steps, spikingjelly neuron (2)")
    train.add_argument("--decay-input", dest="decay_input", action=argparse.BooleanOptionalAction,
                       default=None, help="divide the input by tau too (spikingjelly; default yes)")
    train.add_argument("--reset", choices=("zero", "subtract"), default=None,
                       help="spikingjelly neuron: hard reset to 0 (default) or subtract")
    train.add_argument("--detach-reset", dest="detach_reset",
                       action=argparse.BooleanOptionalAction, default=None,
                       help="no gradient through the reset (spikingjelly; default no)")
    train.add_argument("--encoder", choices=("static", "poisson"), default=None,
                       help="image as constant current, or per-step Bernoulli spikes")
    train.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None,
                       help="layers with biases (tutorial 5 yes, SpikingJelly no)")
    train.add_argument("--threshold", type=float, default=None, help="firing threshold (1)")
    train.add_argument("--steps", type=int, default=None, help="time steps per example")
    train.add_argument("--surrogate", choices=("atan", "fast_sigmoid", "rectangular", "sigmoid"),
                       default=None)
    train.add_argument("--surrogate-scale", type=float, default=None,
                       help="atan alpha (2), fast-sigmoid slope (25), rectangle width (1) or "
                       "sigmoid alpha (4)")
    train.add_argument("--loss", choices=("membrane_ce", "count_ce", "rate_mse"), default=None)
    train.add_argument("--lr", type=float, default=None)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    train.add_argument("--torch-device", default="cpu",
                       help="PyTorch device for training (default cpu; cuda on a GPU machine)")
    train.add_argument("--train-examples", type=int, default=None,
                       help="use only the first N training images")
    train.add_argument("--test-examples", type=int, default=None,
                       help="test accuracy per epoch on the first K test images (default all)")
    train.add_argument("--data", "--source", dest="source", choices=("full", "embedded"), default="full",
                    help="full MNIST from the cache, or the embedded 1,000/500 subset")
    train.add_argument("--out", required=True, help="run directory to write")
    train.set_defaults(func=handle_train)
    _add_evaluate(sub)


def _add_evaluate(sub) -> None:
    """``brainlearn surrogate evaluate``."""
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
    ev.add_argument("--seed", type=int, default=0,
                    help="seed of the input spikes (Poisson input; the same for both)")
    ev.add_argument("--data", "--source", dest="source", choices=("full", "embedded"), default="full",
                    help="full MNIST from the cache, or the embedded 1,000/500 subset")
    ev.set_defaults(func=handle_evaluate)
