"""cabine: the command line and configuration that tie the booth, transmitter, registry,
support desk and simulator together."""

from ephoto import __version__

__all__ = ["__version__"]
