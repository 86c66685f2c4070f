"""Strategy library."""
