"""The domain: entities, value objects, messages, errors and ports. Standard library only."""
