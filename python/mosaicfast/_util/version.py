"""The installed package's version, read once from its metadata."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("mosaicfast")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
