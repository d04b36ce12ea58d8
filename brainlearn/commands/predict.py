"""``brainlearn predict``: one's own images through any registered model's trained run."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  brainlearn predict runs/n400 --images my_digits.npy --out predictions.csv
  brainlearn predict runs/sg1000 --images digits/ --out predictions.csv --invert yes

The run's model (brainlearn models list) loads it as a fitted estimator; images are a .npy
array (n x 28 x 28 or n x 784, values 0-255) or a folder of square PNG files, a light digit on
a dark background as in MNIST (--invert auto turns dark-on-light images around). Diehl & Cook
runs also have `brainlearn mnist predict`, which adds the spike count per class.
"""


def register(subparsers) -> None:
    """Add the ``predict`` command."""
    parser = subparsers.add_parser(
        "predict", help="classify your own images with a trained run of any model",
        description="Load a trained run directory as its model's estimator and write one CSV "
        "row per image: image (index or file name) and predicted label.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a trained run directory")
    parser.add_argument("--images", required=True, help=".npy array or folder of PNG images")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                        help="turn dark-on-light images into MNIST's light-on-dark (default "
                        "auto: images with a light border)")
    parser.set_defaults(func=_predict)


def _predict(args) -> int:
    from brainlearn.models import predict_run

    table = predict_run(args.run, args.images, args.out, invert=args.invert)
    counts = table["label"].value_counts().sort_index()
    print(f"{len(table)} images classified; labels: "
          + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    print(f"written: {args.out}")
    return 0
