"""Packaging entry for brainlearn.

The top-level folders ``models/``, ``protocols/`` and ``analysis/`` install as
``brainlearn.models``, ``brainlearn.protocols`` and ``brainlearn.analysis``.
"""

import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def read_version() -> str:
    """``__version__`` from ``brainlearn/__init__.py`` (the one place it is set), without importing."""
    text = (HERE / "brainlearn" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if match is None:
        raise RuntimeError("brainlearn/__init__.py has no line __version__ = \"...\"")
    return match.group(1)


#: import name -> folder. ``brainlearn/`` is the core; the top-level ``models/``, ``protocols/``
#: and ``analysis/`` install as ``brainlearn.models``, ``brainlearn.protocols`` and
#: ``brainlearn.analysis``. Every folder below them with an ``__init__.py`` is a subpackage,
#: found here so that a new package (a model, a protocol runner) needs no line in this file.
ROOTS = {"brainlearn": "brainlearn", "brainlearn.models": "models",
         "brainlearn.protocols": "protocols", "brainlearn.analysis": "analysis"}


def find_packages_in(roots: dict[str, str]) -> dict[str, str]:
    """Every package under ``roots`` (folders holding ``__init__.py``), name -> folder."""
    packages = {}
    for name, folder in roots.items():
        for init in sorted((HERE / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(HERE / folder).parts
            if any(part.startswith(".") for part in rel):
                continue
            packages[".".join((name, *rel))] = "/".join((folder, *rel))
    return packages


PACKAGES = find_packages_in(ROOTS)

EXTRAS = {
    "nwb": ["pynwb>=2.8"],
    "neo": ["neo>=0.13", "elephant>=1.1", "quantities"],
    "torch": ["torch==2.13.0"],
    # brian2cuda pins brian2 exactly (1.0a7: brian2==2.8.0; 1.0b1: brian2==2.10.1, which does
    # not install here). The core accepts 2.8.0 and 2.9.0 (the in-network stop has a 2.8 code
    # path), so with this extra pip resolves brian2 2.8.0; without it, 2.9.0.
    "cuda": ["brian2cuda==1.0a7"],
    # NEST itself, the live oracle of the plasticity tests (tests/test_nest_stdp.py);
    # the registry's wheel is for CPython 3.11
    "nest": ["nest-simulator==3.10.0"],
    "dev": ["pytest>=8", "pytest-xdist>=3.8", "ruff>=0.6", "import-linter>=2.1"],
    # the documentation site and its executed example gallery (docs/, examples/)
    "docs": ["sphinx>=7.2", "sphinx-gallery>=0.16", "furo>=2024.1", "myst-parser>=2"],
    # release artefacts: `python -m build` (sdist + wheel)
    "release": ["build>=1.0"],
}
EXTRAS["all"] = EXTRAS["nwb"] + EXTRAS["neo"] + EXTRAS["torch"]

setup(
    name="brainlearn",
    version=read_version(),
    description="Learning in spiking neural networks on Brian2",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    license_files=["LICENSE", "NOTICE"],
    python_requires=">=3.10",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Scientific/Engineering :: Bio-Informatics",
        "Operating System :: POSIX :: Linux",
    ],
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={
        "brainlearn": ["cpp/*.h", "cpp/templates/*.cpp", "cpp/templates/*/*.cpp"],
        "brainlearn.data": ["embedded/*.npz", "embedded/*.md"],
        "brainlearn.protocols": ["data/*.csv"],
    },
    include_package_data=False,  # package_data above is the complete list (no MANIFEST.in data)
    install_requires=[
        # 2.8.0 (brian2cuda's pin) to 2.11.0 (Python 3.13, numpy 2.5), measured; .ci/run tests
        # the oldest (wheel step, 2.8.0) and the newest (step "newest": Python 3.13, 2.11.0)
        "brian2>=2.8.0,<2.12",
        "packaging>=21",
        # Brian2 2.8 and 2.9 (the newest with wheels for Python 3.10 and 3.11) use
        # numpy.ndarray.ptp, which numpy 2.4 removed, and do not pin numpy themselves;
        # Brian2 2.10 (Python 3.12) and 2.11 (Python 3.13) run with numpy 2.5
        "numpy>=1.24,<2.4; python_version < '3.12'",
        "numpy>=1.24,<2.6; python_version >= '3.12'",
        "scipy>=1.10",
        "matplotlib>=3.7",
        "pandas>=2.0",
        "tqdm>=4.60",
        "pyarrow>=14",
        "h5py>=3.8",
        "scikit-learn>=1.3",
        "pyyaml>=6",
        "dask[distributed]>=2024.1",
        "platformdirs>=3",
        "tabulate>=0.9",
        "lazy_loader>=0.3",  # the model packages load their modules on first use
        "pillow>=9",  # reading PNG images (brainlearn.data.images)
    ],
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": ["brainlearn=brainlearn.cli:main"],
        # packages that register sweep experiments (brainlearn.experiments.load_plugins)
        "brainlearn.experiments": ["models = brainlearn.models:register_experiments",
                                   "protocols = brainlearn.protocols.sweep_tasks"],
    },
)
