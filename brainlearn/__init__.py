"""brainlearn: learning in spiking neural networks on Brian2."""

__version__ = "0.1.0"
__all__ = ["__version__", "sweep"]


def __getattr__(name: str):
    # lazy: ``brainlearn.sweep(fn, grid, seeds)`` imports Dask only when a sweep is asked for
    # (the module brainlearn.sweep is callable: calling it runs brainlearn.sweep.sweep)
    if name == "sweep":
        import importlib

        return importlib.import_module("brainlearn.sweep")
    raise AttributeError(f"module 'brainlearn' has no attribute {name!r}")
