"""Market data: sources, validation and the embedded data sets."""
