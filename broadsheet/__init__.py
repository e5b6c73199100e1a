"""broadsheet: a publication's archive turned into feeds and newsletters."""

__version__ = "0.1.0"
"""The release: pyproject.toml reads it from here (``[tool.setuptools.dynamic]``).

A constant rather than ``importlib.metadata.version()``: every command reads
it (the import and feed build digests, User-Agent headers) and looking it up
in the installed metadata costs more than the rest of the package's start.
"""
