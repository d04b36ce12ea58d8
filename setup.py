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
    # brian2cuda pins brian2 exactly (1.0a7: brian2==2.8.0; 1.0b1: brian2==2.10.1, which does
    # not install here). The core accepts 2.8.0 and 2.9.0 (the in-network stop has a 2.8 code
    # path), so with this extra pip resolves brian2 2.8.0; without it, 2.9.0.
    "cuda": ["brian2cuda==1.0a7"],
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
        "brainlearn": ["cpp/*.h"],
        "brainlearn.data": ["embedded/*.npz", "embedded/*.md"],
        "brainlearn.protocols": ["data/*.csv"],
    },
    include_package_data=True,
    install_requires=[
        # 2.9.0 is the newest that installs here (needs numpy<2.4); 2.8.0 is brian2cuda's pin
        "brian2>=2.8.0,<=2.9.0",
        "packaging>=21",
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
