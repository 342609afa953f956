"""The worker runtime production containers run: one poller per function queue calling the
functions' handlers as Lambda would (`pitchlens worker`, compose, ECS), and replay of stored events."""
