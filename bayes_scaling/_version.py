"""Floor 0. The package version, in one place (``bayes_scaling.__version__`` re-exports it)."""

__version__ = "0.2.0"
