"""sizeup: measure ML training on this machine, then size the machine to train on."""

__version__ = "0.4.0"
