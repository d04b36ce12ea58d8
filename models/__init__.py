"""brainlearn.models."""
