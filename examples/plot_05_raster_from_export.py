"""
Spike raster from an exported run
=================================

A Diehl & Cook run directory stores the test pass's spikes as a spike table
(``spikes.parquet``). :func:`brainlearn.analysis.export_run` writes them to the formats
analysts use (here NWB and SONATA HDF5); :func:`brainlearn.analysis.read_spikes` reads any of
them back, bit for bit, and :func:`brainlearn.analysis.plots.raster` draws the raster.

The run directory is the one the receptive-field example wrote; run on its own, this script
trains the same small network first (about a minute).
"""

import tempfile
from pathlib import Path

import pandas as pd

from brainlearn.analysis import export_run, load_run_spikes, read_spikes
from brainlearn.analysis.plots import raster

run_dir = Path(tempfile.gettempdir()) / "brainlearn_gallery" / "diehl_cook_n49"
if not (run_dir / "spikes.parquet").exists():
    from brainlearn.models.diehl_cook import TrainConfig, evaluate, train

    train(run_dir, TrainConfig.create(neurons=49, examples=400, seed=0, data="embedded",
                                      chunk=400), progress=False)
    evaluate(run_dir, assign_examples=400, test_examples=200, progress=False)

nwb_file = export_run(run_dir, "nwb")
sonata_file = export_run(run_dir, "sonata")
print(nwb_file.name, sonata_file.name)

# %%
# Read the NWB file back and check that it holds exactly the run's spikes:

original = load_run_spikes(run_dir)
from_nwb = read_spikes(nwb_file)
from_sonata = read_spikes(sonata_file)
columns = ["population", "neuron", "t"]
for name, table in (("NWB", from_nwb), ("SONATA", from_sonata)):
    pd.testing.assert_frame_equal(table[columns].reset_index(drop=True),
                                  original[columns].reset_index(drop=True), check_exact=True)
    print(f"{name}: {len(table)} spikes, identical to spikes.parquet")

# %%
# The raster of the first five test images (one row per excitatory neuron; grey lines mark
# the images):

fig = raster(from_nwb, max_examples=5)

# %%
# Spikes per test image, and how many images each neuron answered, from the exported table:

pd.DataFrame({
    "spikes per image": from_nwb.groupby("example").size().describe(),
    "images per neuron": from_nwb.groupby("neuron")["example"].nunique().describe(),
}).round(2)
