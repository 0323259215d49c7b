"""The public API: the image chain of one image in Python, as the workflow runs it.

Its names are re-exported at the top of the package, whose ``__all__`` lists them
(``import skyrms``; see :mod:`skyrms`); here each is re-exported explicitly (``as``).
"""

from skyrms.api.calibration import nearest_masters as nearest_masters
from skyrms.api.calibration import propagated_rms as propagated_rms
from skyrms.api.frames import FrameRun as FrameRun
from skyrms.api.frames import run_frames as run_frames
from skyrms.api.images import background as background
from skyrms.api.images import circular_mask as circular_mask
from skyrms.api.images import source_mask as source_mask
from skyrms.api.images import source_mask_pass as source_mask_pass
from skyrms.api.pictures import quicklook as quicklook
from skyrms.api.results import BackgroundResult as BackgroundResult
from skyrms.api.results import CircularMaskResult as CircularMaskResult
from skyrms.api.results import MaskResult as MaskResult
from skyrms.api.results import MastersResult as MastersResult
from skyrms.api.results import PropagatedRMSResult as PropagatedRMSResult
from skyrms.api.results import SourceMaskResult as SourceMaskResult
from skyrms.browse import FrameRecord as FrameRecord
from skyrms.browse import select as select
from skyrms.io.fitsfiles import InputError as InputError
from skyrms.settings import CircularMask as CircularMask
