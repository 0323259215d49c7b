"""Science: arrays in, arrays out, no files (backgrounds, source masks, circles, the noise
model)."""
