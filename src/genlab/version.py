"""The package version, in a module of its own so any layer can record it without importing
the package root (which re-exports the Python API of the top layers)."""

__version__ = "0.1.0"
