"""Version of the syntheo toolkit (shared by l2a, l3a and mosaic)."""

__version__ = "0.1.0"
