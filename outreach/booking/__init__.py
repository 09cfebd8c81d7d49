"""booking feature."""
