"""sparkstudio: a self-hosted studio for interactive analytics on Apache Spark."""

__version__ = "0.1.0"
