"""broadsheet: a publication's archive turned into feeds and newsletters."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("broadsheet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
