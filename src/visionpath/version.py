"""The version of visionpath: in every checkpoint, and in the package metadata (pyproject.toml reads it here)."""
__version__ = "0.1.0"
