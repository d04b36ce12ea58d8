"""Smoke test of an installed (not editable) brainlearn, run from outside the source tree.

Usage: python smoke_installed.py SOURCE_TREE DEMO_RUN_DIR

Fails when brainlearn is imported from the source tree, when the installed version or the
one in ``CITATION.cff`` differs from ``brainlearn.__version__``, when a module does not import (modules that need an
optional extra that is not installed are reported, not failed), when package data is missing
(embedded MNIST, plasticity data) or when the demo's run directory is incomplete.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
from importlib import metadata, resources
from pathlib import Path

OPTIONAL = {"torch", "pynwb", "neo", "elephant", "quantities", "brian2cuda"}


def main(source: Path, demo: Path) -> None:
    import brainlearn

    where = Path(brainlearn.__file__).resolve()
    assert not where.is_relative_to(source), f"brainlearn imported from the source tree: {where}"
    assert metadata.version("brainlearn") == brainlearn.__version__, (
        metadata.version("brainlearn"), brainlearn.__version__)
    cited = re.findall(r"^\s*version: (\S+)$", (source / "CITATION.cff").read_text(), re.MULTILINE)
    assert cited and set(cited) == {brainlearn.__version__}, (
        f"CITATION.cff says version {cited}, brainlearn.__version__ is {brainlearn.__version__}")
    print(f"brainlearn {brainlearn.__version__} from {where.parent}")

    imported, optional = [], []
    for info in pkgutil.walk_packages(brainlearn.__path__, "brainlearn."):
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except ModuleNotFoundError as error:
            if error.name is None or error.name.split(".")[0] not in OPTIONAL:
                raise
            optional.append(f"{info.name} (needs {error.name})")
    for room in ("brainlearn.models", "brainlearn.protocols", "brainlearn.analysis", "brainlearn.commands"):
        assert room in imported, f"{room} is not in the installed package"
    print(f"{len(imported)} modules import; optional extras missing for: {optional or 'none'}")

    from brainlearn.data import load_mnist

    train_images, train_labels = load_mnist("train", source="embedded")
    test_images, test_labels = load_mnist("test", source="embedded")
    assert train_images.shape == (1000, 28, 28) and test_images.shape == (500, 28, 28)
    assert resources.files("brainlearn.data").joinpath("embedded/README.md").is_file()

    from brainlearn.protocols import list_datasets, make_rule, sjostrom

    datasets = list_datasets()
    assert (datasets["points"] > 0).all(), datasets
    result, facts = sjostrom(make_rule("triplet", "visual-nn-minimal"))
    assert all(facts.values()) and result.E < 2, (result.E, facts)
    print(f"plasticity data: {len(datasets)} datasets; triplet on sjostrom2001: E = {result.E:.2f}")

    from brainlearn.analysis import load_run_spikes

    for name in ("config.json", "metrics.json", "weights.npz", "eval_counts.npz",
                 "spikes.parquet", "receptive_fields.png", "confusion.png"):
        assert (demo / name).is_file(), f"demo run directory lacks {name}"
    metrics = json.loads((demo / "metrics.json").read_text())
    assert metrics["test_examples"] == 500 and metrics["accuracy"] > 0.3, metrics
    spikes = load_run_spikes(demo)
    assert len(spikes) > 0 and set(spikes["example"]) <= set(range(500))
    print(f"demo: accuracy {100 * metrics['accuracy']:.1f} % on 500 test images, "
          f"{len(spikes)} test spikes read back")
    print("smoke test passed")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
