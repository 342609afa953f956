"""PitchLens: football match data and video into analytics, as event-driven functions."""

__version__ = "0.1.0"
