"""Packaging entry for brainlearn.

The top-level folders ``models/``, ``protocols/`` and ``analysis/`` install as
``brainlearn.models``, ``brainlearn.protocols`` and ``brainlearn.analysis``.
"""

from setuptools import setup

PACKAGES = {
    "brainlearn": "brainlearn",
    "brainlearn.data": "brainlearn/data",
    "brainlearn.commands": "brainlearn/commands",
    "brainlearn.models": "models",
    "brainlearn.protocols": "protocols",
    "brainlearn.analysis": "analysis",
}

EXTRAS = {
    "nwb": ["pynwb>=2.8"],
    "neo": ["neo>=0.13", "elephant>=1.1", "quantities"],
    "torch": ["torch==2.13.0"],
    # brian2cuda pins brian2 exactly (1.0b1: brian2==2.10.1, Python>=3.12; 1.0a7: brian2==2.8.0);
    # none pairs with the core's brian2==2.9.0, so this extra does not resolve yet. Without it,
    # --device cuda_standalone says which extra is missing.
    "cuda": ["brian2cuda>=1.0a7"],
    "dev": ["pytest>=8", "ruff>=0.6"],
}
EXTRAS["all"] = EXTRAS["nwb"] + EXTRAS["neo"] + EXTRAS["torch"]

setup(
    name="brainlearn",
    version="0.1.0",
    description="Learning in spiking neural networks on Brian2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={
        "brainlearn.data": ["embedded/*.npz", "embedded/*.md"],
        "brainlearn.protocols": ["data/*.csv"],
    },
    include_package_data=True,
    install_requires=[
        "brian2==2.9.0",
        "numpy>=1.24,<2.4",
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
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["brainlearn=brainlearn.cli:main"]},
)
