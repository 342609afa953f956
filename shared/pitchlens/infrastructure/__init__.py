"""Adapters for the ports, settings, logging, metrics and the composition root."""
