"""brainlearn: learning in spiking neural networks on Brian2."""

__version__ = "0.1.0"
__all__ = ["__version__"]
