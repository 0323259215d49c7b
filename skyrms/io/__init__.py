"""Files: FITS reading and atomic writing, the header keywords, product headers, the header index,
frame discovery and tables. Never imports :mod:`skyrms.science`."""
