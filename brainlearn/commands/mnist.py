"""``brainlearn mnist``: Diehl & Cook (2015) unsupervised MNIST learning."""

from __future__ import annotations

import argparse

from brainlearn.commands import int_list, list_type, str_list

#: argparse type: comma-separated seeds (0 allowed)
seed_list = list_type(int, minimum=0)

#: the cells' integration methods (models.diehl_cook.model.INTEGRATIONS; kept here so that
#: parsing the command line does not import Brian2)
INTEGRATIONS = ["implicit_euler", "exponential_euler", "euler"]
#: the evaluation's readouts (models.diehl_cook.evaluation.READOUTS)
READOUTS = ("vote", "logistic", "online")

EPILOG = """examples:
  brainlearn mnist train --neurons 100 --epochs 1 --out runs/n100
  brainlearn mnist train --neurons 100 --examples 1000 --data embedded --out runs/demo
  brainlearn mnist train --resume runs/n100
  brainlearn mnist evaluate runs/n100
  brainlearn mnist evaluate runs/demo --assign-examples 1000 --test-examples 500
  brainlearn mnist evaluate runs/n400 --readout vote,logistic,online
  brainlearn mnist evaluate runs/n100 --workers 8          # on 8 worker processes (Dask)
  brainlearn mnist plot runs/n100
  brainlearn mnist predict runs/n100 --images digits/ --out predictions.csv
  brainlearn mnist reproduce --rows 100,400,1600 --out runs/table1
  brainlearn mnist reproduce --rows 100 --params sized --seeds 0,1,2 --out runs/table1
"""


def register(subparsers) -> None:
    """Add the ``mnist`` command."""
    parser = subparsers.add_parser(
        "mnist", help="Diehl & Cook (2015) unsupervised MNIST learning",
        description="Train, evaluate and plot the Diehl & Cook (2015) network.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="mnist_command", metavar="SUBCOMMAND", required=True)
    for add in (_add_train, _add_evaluate, _add_reproduce, _add_tune, _add_predict, _add_plot):
        add(sub)


def _add_train(sub) -> None:
    train = sub.add_parser(
        "train", help="train a network (or resume one)",
        epilog="examples:\n  brainlearn mnist train --neurons 400 --epochs 3 --out runs/n400\n"
        "  brainlearn mnist train --resume runs/n400\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--neurons", type=int, default=100, help="excitatory neurons N (default 100)")
    amount = train.add_mutually_exclusive_group()
    amount.add_argument("--epochs", type=float, help="passes over the training set (default 1)")
    amount.add_argument("--examples", type=int, help="number of training examples")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--device", default="cpp_standalone",
                       choices=["cpp_standalone", "runtime", "cuda_standalone"])
    train.add_argument("--threads", type=int, default=None, help="OpenMP threads (cpp_standalone)")
    train.add_argument("--data", default="full", choices=["full", "embedded"],
                       help="full MNIST from the cache, or the embedded 1000/500 subset")
    train.add_argument("--timer", default="brian1", choices=["brian1", "brian2"],
                       help="reading of the original threshold timer (see docs; default brian1)")
    train.add_argument("--theta-plus", metavar="QUANTITY",
                       help="threshold increment per spike, e.g. '0.0125 mV' (default: the "
                       "paper's 0.05 mV; smaller values raise the spike budget of small "
                       "networks, see the README)")
    train.add_argument("--params", default="paper", choices=["paper", "sized"],
                       help="parameter set: the paper's, or 'sized' (theta_plus scaled with N "
                       "below 200 cells so a small network keeps the spike budget of 200, a "
                       "margin chosen on held-out training images; default paper)")
    train.add_argument("--integration", default="implicit_euler", choices=INTEGRATIONS,
                       help="integration of the cells: implicit Euler (default; stable under "
                       "strong inhibition, needed from N=1600 on), exponential Euler (stable, "
                       "2.2x forward Euler's cost), or the original's forward Euler (unstable "
                       "from N=1600 on; see the README)")
    train.add_argument("--chunk", type=int, default=1000,
                       help="images per compiled run between checkpoints (default 1000)")
    train.add_argument("--validation", type=int, default=0, metavar="N",
                       help="hold out the last N training images: never trained on, and the "
                       "run's evaluation scores them instead of the test set (for choosing "
                       "options on training data; default 0)")
    train.add_argument("--out", help="run directory (new run)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--profile", action="store_true",
                       help="Brian2's profiling: write RUN_DIR/profile.csv (seconds and share "
                       "per generated code object)")
    train.set_defaults(func=_train)


def _add_evaluate(sub) -> None:
    ev = sub.add_parser(
        "evaluate", help="assign labels on training images, then test accuracy",
        epilog="examples:\n  brainlearn mnist evaluate runs/n400\n"
        "  brainlearn mnist evaluate runs/n400 --assign-examples 10000 --test-examples 10000\n"
        "  brainlearn mnist evaluate runs/n400 --workers 1             # serial, in this process\n"
        "  brainlearn mnist evaluate runs/n400 --scheduler tcp://HOST:8786\n"
        "\nEvery presentation starts from rest and every chunk from the same state with its own\n"
        "seed, so the images are split into shards of whole chunks that run on Dask workers\n"
        "(by default one per core from 5,000 images on) with exactly the serial result.\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("run_dir")
    ev.add_argument("--assign-examples", type=int, default=None,
                    help="training images for the label assignment (default: all)")
    ev.add_argument("--test-examples", type=int, default=None, help="test images (default: all)")
    ev.add_argument("--device", default=None,
                    choices=["cpp_standalone", "runtime", "cuda_standalone"])
    ev.add_argument("--readout", default=("vote",), type=str_list(READOUTS),
                    help="comma-separated readouts: vote (Diehl & Cook), logistic, online "
                    "(default vote); each adds accuracy_<name> to metrics.json")
    ev.add_argument("--no-progress", action="store_true")
    # sharded evaluation (issue 7)
    shard = ev.add_mutually_exclusive_group()
    shard.add_argument("--workers", type=int, default=None,
                       help="worker processes (a local Dask cluster); 1 = serial in this "
                       "process (default: every core from 5,000 images on)")
    shard.add_argument("--scheduler", metavar="ADDR", default=None,
                       help="shard the evaluation over an existing Dask cluster (tcp://HOST:PORT)")
    ev.set_defaults(func=_evaluate)


def _add_reproduce(sub) -> None:
    rep = sub.add_parser(
        "reproduce", help="the paper's Table 1: train, evaluate and plot each row, then tabulate",
        epilog="examples:\n  brainlearn mnist reproduce --rows 100,400,1600 --out runs/table1\n"
        "  brainlearn mnist reproduce --rows 100 --params sized --seeds 0,1,2 --out runs/table1\n"
        "  brainlearn mnist reproduce --rows 1600 --workers 2 --out runs/table1   "
        "# evaluation sharded\n"
        "  brainlearn mnist reproduce --rows 100 --data embedded --examples 200 "
        "--assign-examples 500 --test-examples 200 --out runs/quick\n"
        "\nEach row trains for the paper's passes (N=100: 1, 400: 3, 1600: 7, 6400: 15) in its\n"
        "own run directory (n400, n100_sized_s1, ...), is evaluated (vote, logistic, online)\n"
        "and plotted; table.csv and table.md are rewritten after every row. Running the same\n"
        "command again resumes the unfinished row from its checkpoint and skips finished ones.\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument("--rows", default=(100, 400, 1600), type=int_list,
                     help="comma-separated network sizes of the paper's table (default 100,400,1600)")
    rep.add_argument("--params", default="paper", choices=["paper", "sized"])
    rep.add_argument("--integration", default="implicit_euler", choices=INTEGRATIONS,
                     help="integration of the cells (default implicit_euler; see train --help)")
    rep.add_argument("--timer", default="brian1", choices=["brian1", "brian2"],
                     help="reading of the original threshold timer (default brian1; see train "
                     "--help); rows of brian2 run in directories of their own (n6400_brian2)")
    rep.add_argument("--seeds", default=(0,), type=seed_list,
                     help="comma-separated seeds (default 0)")
    rep.add_argument("--data", default="full", choices=["full", "embedded"])
    rep.add_argument("--examples", type=int, default=None,
                     help="training images per row instead of the paper's passes (quick checks)")
    rep.add_argument("--assign-examples", type=int, default=None)
    rep.add_argument("--test-examples", type=int, default=None)
    rep.add_argument("--chunk", type=int, default=1000)
    rep.add_argument("--device", default="cpp_standalone", choices=["cpp_standalone", "runtime", "cuda_standalone"],
                     help="Brian2 device of new rows (default cpp_standalone)")
    rep.add_argument("--out", required=True, help="directory of the reproduction")
    rep.add_argument("--no-progress", action="store_true")
    rep_shard = rep.add_mutually_exclusive_group()
    rep_shard.add_argument("--workers", type=int, default=None,
                           help="each row's evaluation on N worker processes, 1 = serial "
                           "(as `evaluate --workers`; default: every core from 5,000 images on)")
    rep_shard.add_argument("--scheduler", metavar="ADDR", default=None,
                           help="shard each row's evaluation over an existing Dask cluster")
    rep.set_defaults(func=_reproduce)


def _add_tune(sub) -> None:
    tune = sub.add_parser(
        "tune", help="choose theta_plus on held-out training images (never the test set)",
        epilog="examples:\n  brainlearn mnist tune --neurons 100 --theta-plus "
        "'0.00625 mV,0.0125 mV,0.025 mV' --seeds 0,1 --out runs/tune_n100\n"
        "  brainlearn mnist tune --data embedded --examples 200 --validation 200 "
        "--theta-plus '0.0125 mV,0.05 mV' --out runs/tune_quick\n"
        "\nEach candidate and seed trains in its own run directory (n100_tp0.0125mV_s1, ...)\n"
        "with the last --validation training images held out, and is scored on them (vote and\n"
        "logistic readouts; labels from the other training images). tune.csv holds every run,\n"
        "tune.md the mean per candidate, best first. Running it again resumes.\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune.add_argument("--theta-plus", required=True, metavar="QUANTITIES",
                      help="comma-separated candidates, each with its unit ('0.0125 mV,0.025 mV')")
    tune.add_argument("--neurons", type=int, default=100, help="excitatory neurons N (default 100)")
    tune.add_argument("--seeds", default=(0,), type=seed_list,
                      help="comma-separated seeds (default 0)")
    tune.add_argument("--validation", type=int, default=10000,
                      help="training images held out and scored (default 10000)")
    tune_amount = tune.add_mutually_exclusive_group()
    tune_amount.add_argument("--epochs", type=float, default=None,
                             help="passes over the kept training images (default: the paper's "
                             "for N, else 1)")
    tune_amount.add_argument("--examples", type=int, default=None, help="training images per run")
    tune.add_argument("--assign-examples", type=int, default=None,
                      help="training images that assign the labels (default: all kept)")
    tune.add_argument("--data", default="full", choices=["full", "embedded"])
    tune.add_argument("--integration", default="implicit_euler", choices=INTEGRATIONS)
    tune.add_argument("--chunk", type=int, default=1000)
    tune.add_argument("--out", required=True, help="directory of the search")
    tune.add_argument("--no-progress", action="store_true")
    tune.set_defaults(func=_tune)


def _add_predict(sub) -> None:
    pred = sub.add_parser(
        "predict", help="classify your own images with a trained, evaluated run (CSV)",
        epilog="examples:\n  brainlearn mnist predict runs/n400 --images digits.npy --out "
        "predictions.csv\n  brainlearn mnist predict runs/n400 --images my_pngs/ --out "
        "predictions.csv --invert yes\n"
        "\nOne CSV row per image: image (row index or file name), label (the paper's vote:\n"
        "the class whose assigned neurons fire most per neuron) and spikes_0 .. spikes_9\n"
        "(spikes of the neurons assigned to each class). The run needs its label assignment\n"
        "(brainlearn mnist evaluate RUN, or a directory DiehlCookClassifier.save wrote).\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pred.add_argument("run_dir")
    pred.add_argument("--images", required=True, metavar="FILE_OR_FOLDER",
                      help="a .npy array (n, 28, 28) or (n, 784) of pixel values 0-255, or a "
                      "folder of PNG files (grayscale or RGB, square; resized to 28x28)")
    pred.add_argument("--out", required=True, help="CSV file to write (written atomically)")
    pred.add_argument("--invert", default="auto", choices=["auto", "yes", "no"],
                      help="the network expects MNIST's white digit on black: 'auto' (default) "
                      "inverts each image whose border is light (a dark digit on white paper); "
                      "'yes' inverts all, 'no' none")
    pred.add_argument("--device", default=None,
                      choices=["cpp_standalone", "runtime", "cuda_standalone"],
                      help="Brian2 device (default: the run's)")
    pred.add_argument("--no-progress", action="store_true")
    pred.set_defaults(func=_predict)


def _add_plot(sub) -> None:
    plot = sub.add_parser(
        "plot", help="receptive fields, accuracy, confusion matrix, theta histogram (PNG)",
        epilog="example:\n  brainlearn mnist plot runs/n400\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plot.add_argument("run_dir")
    plot.set_defaults(func=_plot)


def _train(args) -> int:
    from brainlearn.models.diehl_cook.runs import train_run

    options = {} if args.resume else dict(
        neurons=args.neurons, examples=args.examples, epochs=args.epochs, seed=args.seed,
        device=args.device, threads=args.threads, data=args.data, timer=args.timer,
        chunk=args.chunk, theta_plus=args.theta_plus, params=args.params,
        integration=args.integration, validation=args.validation)
    result = train_run(args.out, args.resume, progress=not args.no_progress,
                       profile=args.profile, **options)
    m = result.metrics
    print(f"trained {m['train_examples']} examples in {m['train_seconds']:.1f} s "
          f"({m['ms_per_example']:.2f} ms per example, compile {m['compile_seconds']:.1f} s); "
          f"run directory: {result.run_dir}")
    if result.profile is not None:
        print("profile (share of the simulation time):")
        for row in result.profile.head(6).itertuples():
            print(f"  {100 * row.share:5.1f} %  {row.seconds:9.3f} s  {row.code_object}")
    return 0


def _evaluate(args) -> int:
    from brainlearn.models.diehl_cook.runs import evaluate_run

    metrics = evaluate_run(args.run_dir, args.assign_examples, args.test_examples,
                           readouts=args.readout, workers=args.workers, scheduler=args.scheduler,
                           progress=not args.no_progress, device=args.device)
    scored = ("held-out training" if metrics.get("scored_on") == "validation" else "test")
    print(f"accuracy {100 * metrics['accuracy']:.2f} % on {metrics['test_examples']} {scored} images "
          f"(labels from {metrics['assign_examples']} training images); "
          f"metrics: {args.run_dir}/metrics.json")
    for name in args.readout:
        if f"accuracy_{name}" in metrics:
            print(f"  {name:9s} {100 * metrics[f'accuracy_{name}']:.2f} %")
    if metrics.get("cells_fire_at_rest"):
        print(f"note: {metrics['cells_fire_at_rest']:,} of {metrics['neurons']:,} cells have a "
              "frozen threshold below rest: each fires at the start of every image, whatever "
              "its digit, which drowns the vote of its class; the logistic and online readouts "
              "learn to ignore them (docs: results, the N=6400 row)")
    if metrics.get("unselective_cells"):
        print(f"note: {metrics['unselective_cells']:,} of {metrics['neurons']:,} cells above rest "
              f"fire in more than half of the {scored} images, where a cell that answers one "
              f"digit fires in about one in ten; the busiest, cell {metrics['busiest_cell']}, "
              f"fires in {100 * metrics['busiest_cell_images']:.0f} % of them and gives "
              f"{100 * metrics['busiest_cell_spike_share']:.1f} % of their spikes: a threshold "
              "at or just above rest, whose inhibition can silence the layer and cost the vote "
              "most (docs: results, the N=6400 row)")
    return 0


def _plot(args) -> int:
    from brainlearn.models.diehl_cook.plots import plot_run

    for path in plot_run(args.run_dir):
        print(path)
    return 0


def _tune(args) -> int:
    from brainlearn.models.diehl_cook.tune import tune

    summary = tune(
        args.out, args.theta_plus, neurons=args.neurons, seeds=args.seeds,
        validation=args.validation, epochs=args.epochs, examples=args.examples,
        assign_examples=args.assign_examples, data=args.data, integration=args.integration,
        chunk=args.chunk, progress=not args.no_progress,
    )
    print(summary.to_markdown(index=False, floatfmt=".4g"))
    print(f"every run: {args.out}/tune.csv; per candidate: {args.out}/tune.md")
    return 0


def _reproduce(args) -> int:
    from brainlearn.models.diehl_cook.reproduce import reproduce

    table = reproduce(
        args.out, args.rows, param_set=args.params, integration=args.integration,
        timer=args.timer, seeds=args.seeds, data=args.data, examples=args.examples,
        assign_examples=args.assign_examples, test_examples=args.test_examples,
        chunk=args.chunk, progress=not args.no_progress, workers=args.workers,
        scheduler=args.scheduler, device=args.device,
    )
    print(table.to_markdown(index=False, floatfmt=".4g"))
    print(f"table: {args.out}/table.csv, {args.out}/table.md")
    return 0


def _predict(args) -> int:
    from brainlearn.models.diehl_cook.predict import predict_images

    table = predict_images(args.run_dir, args.images, args.out, invert=args.invert,
                           device=args.device, progress=not args.no_progress)
    counts = table["label"].value_counts().sort_index()
    print(f"{len(table)} images classified: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    print(f"predictions: {args.out}")
    return 0
