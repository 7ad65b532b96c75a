"""polski: a from-scratch Polish language model pipeline."""

__version__ = "0.1.0"
