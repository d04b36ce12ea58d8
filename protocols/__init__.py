"""brainlearn.protocols."""
