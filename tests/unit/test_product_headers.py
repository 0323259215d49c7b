"""Product headers: long paths on CONTINUE cards, comments whole or left out, never a warning."""

import shutil
import warnings

import pytest
from astropy.io import fits

from skyrms.demo import survey
from skyrms.io import keywords as kw
from skyrms.io.provenance import set_card
from skyrms.science.background import BackgroundParams
from skyrms.science.source_mask import MaskParams
from skyrms.steps.mask_and_background import mask_and_background
from skyrms.steps.weight import weight_map

DIGEST = "0123456789abcdef" * 4
"""A SHA-256 as FRAMESHA holds it: 64 characters, no room for a comment on the card."""


def card_of(value):
    header = fits.Header()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        set_card(header, "KEY", value, "what this card means")
        text = header.tostring()
    return fits.Header.fromstring(text), text


@pytest.mark.parametrize(
    ("value", "comment"),
    [
        (1.5, "what this card means"),
        ("/short/path.fits", "what this card means"),
        (DIGEST, ""),
        ("/a" * 60, "what this card means"),
    ],  # fmt: skip
    ids=["number", "short string", "digest", "long path"],
)
def test_a_card_keeps_its_value_and_its_whole_comment_or_none(value, comment):
    header, text = card_of(value)
    assert header["KEY"] == value and header.comments["KEY"] == comment
    assert ("CONTINUE" in text) == (len(value) > 68 if isinstance(value, str) else False)


@pytest.fixture
def deep_frame(tmp_path):
    """A small demo frame at a path of over 200 characters, as survey archives have."""
    survey.write(tmp_path / "demo", shape=(200, 300), raw_frames=False)
    source = next(f for f in survey.plan()[0] if f.object == survey.GALAXY["object"])
    folder = tmp_path.joinpath(*["a_rather_long_folder_name_of_the_survey"] * 5)
    folder.mkdir(parents=True)
    return shutil.copy(tmp_path / "demo" / source.relpath, folder / "frame.fits")


def test_products_of_long_paths_are_written_without_a_warning(deep_frame, tmp_path):
    out = {kind: str(deep_frame)[:-5] + f".{kind}.fits" for kind in ("mask", "bkg", "bkgrms")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy's "Card is too long" included
        mask_and_background(
            str(deep_frame), out["mask"], out["bkg"], out["bkgrms"], MaskParams(),
            BackgroundParams(box_size=50), [], frame_digest=DIGEST,
        )  # fmt: skip
        weight_map(out["bkgrms"], out["mask"], str(tmp_path / "w.fits"))
    assert len(str(deep_frame)) > 200
    for path in [*out.values(), tmp_path / "w.fits"]:
        header = fits.getheader(path)
        assert header[kw.FRAMESHA] == DIGEST
        assert header.get(kw.IN_FRAME, header.get(kw.IN_NOISE)) in (str(deep_frame), out["bkgrms"])
        for card in header.cards:
            keyword = getattr(kw, card.keyword.replace("-", "_"), None)
            if isinstance(keyword, kw.Keyword) and card.comment:
                assert card.comment == keyword.comment or card.keyword in CUSTOM, card
    assert fits.getheader(tmp_path / "w.fits")[kw.IN_NOISE] == out["bkgrms"]


CUSTOM = {kw.RDNOISE, *kw.IDENTITY, kw.SIMPLE, kw.BITPIX, kw.NAXIS, kw.NAXIS1, kw.NAXIS2,
          kw.BZERO, kw.BSCALE, *kw.EXTENSION_CARDS}  # fmt: skip
"""Cards whose comment is not the keyword's own: the read noise's says its source; the frame's
identity cards keep the frame's comments; astropy writes the structure and the checksums."""


def test_growth_stop_cards_name_their_whole_reason(deep_frame):
    mask = str(deep_frame)[:-5] + ".mask.fits"
    mask_and_background(str(deep_frame), mask, mask + ".b", mask + ".r", MaskParams(),
                        BackgroundParams(box_size=50), [])  # fmt: skip
    header = fits.getheader(mask)
    reasons = {card.keyword: card.comment for card in header.cards if card.keyword[:4] == "MSKG"}
    assert reasons["MSKGNOIS"] == "sources whose growth stopped: noise"
    assert reasons["MSKGHIDD"] == "sources whose growth stopped: hidden"
    assert header.comments[kw.MSKSTOP] == kw.MSKSTOP.comment
