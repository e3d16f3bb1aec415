"""genlab: train, evaluate and sample generative image models."""

__version__ = "0.1.0"
