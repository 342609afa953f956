"""The embedded local stack, queue pollers, replay and the `pitchlens` CLI."""
