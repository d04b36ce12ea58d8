"""sphinx-gallery image scraper for matplotlib Figures made without pyplot.

brainlearn's plotting functions build :class:`matplotlib.figure.Figure` objects directly (no
pyplot state), which sphinx-gallery's matplotlib scraper cannot see. :func:`figure_objects`
saves every new Figure bound to a name in the example's globals (or held in a list or tuple
there). It runs before the matplotlib scraper (``conf.py``), while pyplot figures are still
open: those it marks as seen and leaves to that scraper. Named in ``conf.py`` by its
qualified name, so Sphinx can cache the configuration.
"""

from __future__ import annotations

import weakref

__all__ = ["figure_objects"]

_SEEN: weakref.WeakSet = weakref.WeakSet()


def figure_objects(block, block_vars, gallery_conf, **kwargs) -> str:
    """Save the new pyplot-free Figures of a code block and return their reST."""
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    found = []
    for value in list(block_vars["example_globals"].values()):
        for item in value if isinstance(value, list | tuple) else (value,):
            if isinstance(item, Figure) and item not in _SEEN:
                _SEEN.add(item)
                if item.canvas.manager is None:  # not a pyplot figure
                    found.append(item)
    paths = []
    for fig, path in zip(found, block_vars["image_path_iterator"], strict=False):
        fig.savefig(path, dpi=90, bbox_inches="tight")
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])
