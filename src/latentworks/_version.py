"""The package version, in a module of its own so that reading it loads nothing else (``latentworks/__init__``
loads the Python API, and ``runs.py``, the bottom layer, records the version next to every result)."""

__version__ = "0.2.0"
