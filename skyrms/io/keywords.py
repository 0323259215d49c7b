"""Every FITS header keyword skyrms reads or writes: its name, meaning and unit.

The one home of the header contract. A :class:`Keyword` is the keyword's name
(a ``str``, so ``header[EXPTIME]`` and ``fields.get(DATE_OBS)`` read it) that
also knows its comment, so writers make their cards with ``Keyword.card``. A
:class:`Family` names numbered or typed keywords (``MSKSRC1``, ``IN_BIAS``).
Readers and writers import these names; no other module spells a keyword.
"""


class Keyword(str):
    """A FITS keyword (the string itself) and its ``comment``: meaning and unit."""

    comment: str

    def __new__(cls, name: str, comment: str):
        keyword = super().__new__(cls, name)
        keyword.comment = comment
        return keyword

    def __reduce__(self):  # pickled (for Snakemake's jobs) with its comment
        return (Keyword, (str(self), self.comment))

    def card(self, value, comment: str | None = None) -> tuple[str, object, str]:
        """A (keyword, value, comment) card; ``comment`` replaces the standard one."""
        return (str(self), value, self.comment if comment is None else comment)


class Family:
    """Keywords made from a ``pattern`` by one part: ``Family("MSKSRC{}", ...)(2)`` is MSKSRC2.

    Both patterns may use ``{}`` (the part), ``{lower}`` (the part in lower case) and
    ``{short}`` (its first four characters in upper case, for keywords of eight).
    """

    def __init__(self, pattern: str, comment: str):
        self.pattern, self.comment = pattern, comment

    def __call__(self, part) -> Keyword:
        text = str(part)
        forms = {"lower": text.lower(), "short": text[:4].upper()}
        return Keyword(self.pattern.format(text, **forms), self.comment.format(text, **forms))


# FITS structure, read to find and decode images.
SIMPLE = Keyword("SIMPLE", "file conforms to FITS")
NAXIS = Keyword("NAXIS", "number of axes")
NAXIS1 = Keyword("NAXIS1", "frame width, px")
NAXIS2 = Keyword("NAXIS2", "frame height, px")
BITPIX = Keyword("BITPIX", "bits per pixel; > 0 for integer frames")
BLANK = Keyword("BLANK", "stored value of pixels without data (integer frames)")
BZERO = Keyword("BZERO", "physical value = BZERO + BSCALE x stored value")
BSCALE = Keyword("BSCALE", "physical value = BZERO + BSCALE x stored value")
XTENSION = Keyword("XTENSION", "type of the extension")
PCOUNT = Keyword("PCOUNT", "size of the heap after the data, bytes")
GCOUNT = Keyword("GCOUNT", "groups in the extension")
EXTNAME = Keyword("EXTNAME", "extension name")
CHECKSUM = Keyword("CHECKSUM", "checksum of the HDU")
DATASUM = Keyword("DATASUM", "checksum of the data")

EXTENSION_CARDS = (XTENSION, PCOUNT, GCOUNT, EXTNAME, CHECKSUM, DATASUM)
"""Cards of an image extension that a primary HDU does not carry (or recomputes)."""

# Frames and masters as the survey writes them (read; the demo writes them too).
IMAGETYP = Keyword("IMAGETYP", "frame type: LIGHT, BIAS, DARK or FLAT")
OBJECT = Keyword("OBJECT", "target: the survey tile")
TELESCOP = Keyword("TELESCOP", "telescope unit, e.g. 7DT02")
INSTRUME = Keyword("INSTRUME", "camera")
OBSERVAT = Keyword("OBSERVAT", "observatory")
FILTER = Keyword("FILTER", "filter name")
EXPTIME = Keyword("EXPTIME", "exposure time, s")
DATE_OBS = Keyword("DATE-OBS", "start of the exposure, ISO time, UTC")
MJD_OBS = Keyword("MJD-OBS", "start of the exposure, Modified Julian Date, UTC")
NCOMBINE = Keyword("NCOMBINE", "frames combined into this one")
EGAIN = Keyword("EGAIN", "gain, e-/ADU")
GAIN = Keyword("GAIN", "camera gain setting")
RDNOISE = Keyword("RDNOISE", "read noise, e-")
SATURATE = Keyword("SATURATE", "saturation level, ADU")

IDENTITY = (OBJECT, TELESCOP, INSTRUME, FILTER, EXPTIME, DATE_OBS, MJD_OBS)
"""Frame keywords copied into every product, so products can be selected like frames."""

CONTSHA = Keyword("CONTSHA", "content digest: raw frames, combination, masters used")
"""A built master's workflow content digest (skyrms.plan.master_groups.content_digest)."""

INDEXED = (
    IMAGETYP, OBJECT, TELESCOP, OBSERVAT, FILTER, EXPTIME, DATE_OBS, MJD_OBS,
    NCOMBINE, EGAIN, GAIN, RDNOISE, SATURATE, NAXIS1, NAXIS2, CONTSHA,
)  # fmt: skip
"""Keywords the header index keeps for every input file."""

MASTER_TYPES = ("BIAS", "DARK", "FLAT")
"""IMAGETYP of the masters (and their library folders), in the order a frame is corrected."""

ERROR_EXTENSION = "ERR"
"""EXTNAME of a master's image extension holding its 1-sigma error per pixel (its units)."""
READ_NOISE_EXTENSION = "RDNOISE"
"""EXTNAME of a master bias's image extension holding the read noise per pixel, e-."""
INPUTS_EXTENSION = "INPUTS"
"""EXTNAME of a built master's table of input frames: path, SHA-256, DATE-OBS."""

# Masters built by skyrms (read back by the propagation).
COMBMETH = Keyword("COMBMETH", "combination: mean, median, sigma_clip or minmax")
CLIPSIG = Keyword("CLIPSIG", "sigma_clip threshold, robust sigma")
CLIPLOW = Keyword("CLIPLOW", "minmax: lowest values dropped per pixel")
CLIPHIGH = Keyword("CLIPHIGH", "minmax: highest values dropped per pixel")

# Every product: what it is and where it came from.
PRODTYPE = Keyword("PRODTYPE", "skyrms product type")
BUNIT = Keyword("BUNIT", "unit of the pixel values")
SKYRMSV = Keyword("SKYRMSV", "skyrms version that wrote this file")
DATE = Keyword("DATE", "UTC time written")
FRAMESHA = Keyword("FRAMESHA", "SHA-256 of IN_FRAME")
IN_FRAME = Keyword("IN_FRAME", "input file: the science frame")
IN_BPM = Keyword("IN_BPM", "input file: the bad-pixel mask")
IN_MASK = Keyword("IN_MASK", "input file: the final mask")
IN_SMASK = Keyword("IN_SMASK", "input file: the source mask")
IN_BKG = Keyword("IN_BKG", "input file: the background map")
IN_RMS = Keyword("IN_RMS", "input file: the image-based RMS map")
IN_MASTER = Family("IN_{}", "input file: the master {lower}")
IN_NOISE = Keyword("IN_NOISE", "input file: the RMS map inverted")

# Masks.
MSKSIGMA = Keyword("MSKSIGMA", "detection threshold, x local background RMS")
MSKMINAR = Keyword("MSKMINAR", "minimum source area, pixels")
MSKGROWS = Keyword("MSKGROWS", "a ring joins its source at this significance")
MSKLEVEL = Keyword("MSKLEVEL", "faded sources masked to this level, x RMS")
MSKSATLV = Keyword("MSKSATLV", "saturation level, ADU")
MSKBLANK = Keyword("MSKBLANK", "configured blank value, ADU")
MSKBRUN = Keyword("MSKBRUN", "runs of one value this long are blank, px")
MSKMAXIT = Keyword("MSKMAXIT", "maximum detection passes")
MSKNITER = Keyword("MSKNITER", "detection passes taken")
MSKCONV = Keyword("MSKCONV", "last pass found nothing new")
MSKSTOP = Keyword("MSKSTOP", "end of passes: converged|iterations|background")
MSKGSTOP = Family("MSKG{short}", "sources whose growth stopped: {lower}")
MSKRMAX = Keyword("MSKRMAX", "largest mask radius, px")
MSKSRC = Family("MSKSRC{}", "sources masked in pass {}")
MSKSAT = Family("MSKSAT{}", "saturated sources masked in pass {}")
MSKGRO = Family("MSKGRO{}", "sources grown further in pass {}")
MASKBITS = Keyword("MASKBITS", "bit values")
NCIRCLES = Keyword("NCIRCLES", "circular masks drawn")
CIRCLE = Family("CIRCLE{}", "circular mask")

# Background and image-based RMS maps.
BKGBOX = Keyword("BKGBOX", "background box size, pixels")
BKGFILT = Keyword("BKGFILT", "background filter size, boxes")
MASKFRAC = Keyword("MASKFRAC", "fraction of pixels masked")
BKGPART = Keyword("BKGPART", "boxes estimated from their free part (20-50%)")
BKGNEAR = Keyword("BKGNEAR", "boxes taken from the nearest estimated box")
RMSDIFF = Keyword("RMSDIFF", "boxes whose RMS is the pixel-difference noise")
BKGMED = Keyword("BKGMED", "median of this map, ADU")
RMSBIAS = Keyword("RMSBIAS", "SEP clipped RMS / true sigma; divided out")
RMSMED = Keyword("RMSMED", "median of this map, ADU")

SOURCE_MASK_CARDS = ("MSK", "BKG", MASKBITS)
"""Prefixes of the source mask's parameter cards, carried into the final mask's header."""

# Weight maps.
WGTFROM = Keyword("WGTFROM", "PRODTYPE of the RMS map inverted")
WGTZBITS = Keyword("WGTZBITS", "mask bits given weight 0")
WGTZERO = Keyword("WGTZERO", "fraction of pixels with weight 0")

# Propagated RMS maps.
EGAINUSD = Keyword("EGAINUSD", "gain used, e-/ADU")
NCOMBSCI = Keyword("NCOMBSCI", "exposures in the science frame")
NCOMBBIA = Keyword("NCOMBBIA", "frames in the master bias")
NCOMBDRK = Keyword("NCOMBDRK", "frames in the master dark")
DARKSCAL = Keyword("DARKSCAL", "EXPTIME / dark EXPTIME")
COMBINED = Family("COMB{short}", "how the master {lower} was combined")
DARKBIAS = Keyword("DARKBIAS", "bias in the master dark")
FLATERR = Keyword("FLATERR", "flat error map used")
BIASERR = Keyword("BIASERR", "master bias error map used")
DARKERR = Keyword("DARKERR", "master dark error map used")
CFACBIAS = Keyword("CFACBIAS", "variance factor of the bias's combination")
CFACDARK = Keyword("CFACDARK", "variance factor of the dark's combination")
PROPMED = Keyword("PROPMED", "median of this map, ADU")
IMGMED = Keyword("IMGMED", "median image-based RMS (IN_RMS), ADU")
RMSRATIO = Keyword("RMSRATIO", "median per-pixel propagated/image-based RMS")
ASSUMED = Keyword("ASSUMED", "defaults used for missing keywords")
MASTER_DAYS = Family("{}DAYS", "master {lower} - frame, days")
