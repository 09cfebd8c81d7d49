"""notifications feature."""
