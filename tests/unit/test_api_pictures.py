"""Pictures of the API's results: the workflow's quick-look panels, alone or together."""

import io

import numpy as np
import pytest
from matplotlib.image import imread

import skyrms
from skyrms.steps.quicklook import write_quicklook
from tests.unit.test_api import api_chain, calibrated, frame, library  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def results(frame, calibrated):  # noqa: F811 (the fixtures imported above)
    """The API's mask, maps and propagated RMS of the frame, as ``calibrated`` made them."""
    mask, maps = api_chain(frame)
    propagated = skyrms.propagated_rms(frame, maps, skyrms.nearest_masters(frame, library(frame)))
    return mask, maps, propagated


def pixels(figure) -> np.ndarray:
    """The figure as the workflow saves it (PNG, 80 dpi), read back as RGBA pixels."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return imread(io.BytesIO(buffer.getvalue()))


def panel_titles(figure) -> list[str]:
    """The titles of the figure's panels (colour bars have none)."""
    return [axes.get_title() for axes in figure.axes if axes.get_title()]


def test_the_whole_quicklook_is_the_workflows_picture(frame, calibrated, results, tmp_path):  # noqa: F811
    png = tmp_path / "quicklook.png"
    write_quicklook(frame, calibrated["mask"], calibrated["bkg"], calibrated["bkgrms"],
                    calibrated["proprms"], png, frame.name)  # fmt: skip
    figure = skyrms.quicklook(frame, *results)
    assert np.array_equal(pixels(figure), imread(png))
    assert len(panel_titles(figure)) == 6


def test_each_result_draws_its_own_panels(frame, results):  # noqa: F811
    mask, maps, propagated = results
    assert panel_titles(mask.plot(frame)) == ["frame, final mask in red"]
    assert panel_titles(maps.plot()) == ["background", "background RMS, image-based"]
    alone, ratio = propagated.plot(), propagated.plot(maps)
    assert panel_titles(alone) == ["background RMS, propagated"]
    assert panel_titles(ratio)[-1] == f"propagated / image-based (RMSRATIO {propagated.ratio:.3f})"


def test_a_panel_without_its_result_is_a_one_line_error(frame, results):  # noqa: F811
    mask, _, _ = results
    with pytest.raises(skyrms.InputError, match="cannot draw background: not given") as error:
        skyrms.quicklook(frame, mask, panels=["masked frame", "background"])
    assert "\n" not in str(error.value)
    with pytest.raises(skyrms.InputError, match="nothing to draw"):
        skyrms.quicklook()
