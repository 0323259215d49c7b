"""Steps: one module per job kind; each reads its files, calls the science and writes products."""
