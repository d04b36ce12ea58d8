"""brainlearn.analysis."""
