"""Use cases: one class per file, one public `execute()`, dependencies injected as ports."""
