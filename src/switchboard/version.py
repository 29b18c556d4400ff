"""The package version (one place; the distribution metadata repeats it in pyproject.toml)."""

__version__ = "0.1.0"
