"""calendar feature."""
