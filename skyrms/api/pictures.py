"""Pictures of the API's results in a notebook: the quick-look's panels, alone or together.

The panels and their scales are the workflow's quick-look's
(:func:`skyrms.steps.quicklook.quicklook_figure`): the frame with its mask, the frame, the
background, the image-based and the propagated RMS, and their ratio, binned to at most
:data:`~skyrms.steps.quicklook.MAX_PIXELS` along the longer side.
"""

import os

import numpy as np
from matplotlib import pyplot
from matplotlib.figure import Figure

from skyrms.api.inputs import as_frame, given_mask
from skyrms.io.fitsfiles import InputError
from skyrms.science.background import BackgroundParams
from skyrms.steps.quicklook import binned_maps, quicklook_figure, title_of

ANY_SIZE = BackgroundParams(box_size=1, filter_size=1)
"""A picture needs no background mesh: a frame of any size is drawn."""


def quicklook(
    frame=None, mask=None, background=None, propagated=None, *, panels=None, header=None
) -> Figure:
    """Draw the quick-look of a frame and the results given, as the workflow's PNG shows it.

    Parameters
    ----------
    frame : a 2-d array (ADU), an :class:`~astropy.nddata.NDData` or the path of a frame;
        None draws only the maps.
    mask : a mask result, a mask array (non-zero = masked) or a mask product's path (needs
        ``frame``).
    background : a :class:`~skyrms.api.results.BackgroundResult` (background and RMS, ADU).
    propagated : a :class:`~skyrms.api.results.PropagatedRMSResult` (needs ``background``
        for its ratio panel).
    panels : names of the panels to draw, among "masked frame", "frame", "background",
        "rms", "propagated" and "ratio"; by default all that the results given can show.
    header : for an array, its header (the title's object, filter, exposure and date).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, made by pyplot (a notebook shows it under the cell).

    Raises :class:`~skyrms.io.fitsfiles.InputError` with one line for a frame that cannot be
    read, or a panel whose result is not given.
    """
    maps = {}
    if background is not None:
        maps = {"bkg": background.background.data, "rms": background.rms.data}
    if propagated is not None:
        maps |= {"prop": propagated.rms.data, "ratio": propagated.ratio}
    title, shape = "", next((m.shape for m in maps.values() if hasattr(m, "shape")), None)
    if frame is not None:
        image = as_frame(frame, ANY_SIZE, header)
        maps["frame"] = np.where(np.isfinite(image.data), image.data, np.nan)
        maps["mask"] = None if mask is None else given_mask(mask, image)[0] != 0
        title, shape = title_of(image.header, os.path.basename(image.name)), image.data.shape
    if shape is None:
        raise InputError("quicklook: nothing to draw (no frame and no map given)")
    return quicklook_figure(binned_maps(shape, **maps), title, panels, pyplot.figure)
