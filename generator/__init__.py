"""papercat: a static-site generator for a curated catalogue of research papers."""

__version__ = "0.1.0"
