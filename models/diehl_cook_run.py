"""The Diehl & Cook run loop's former home: it now lives in :mod:`brainlearn.models.diehl_cook`.

Kept so that code importing ``brainlearn.models.diehl_cook_run`` (run scripts, benchmarks)
keeps working; new code imports from :mod:`brainlearn.models.diehl_cook`.
"""

from brainlearn.atomic import save_npz
from brainlearn.models.diehl_cook import *  # noqa: F403
from brainlearn.models.diehl_cook import __all__ as _package_all

__all__ = [*_package_all, "save_npz"]
