"""The embedded local stack (`pitchlens up`): S3/SQS, PostgreSQL, the functions and the API in one
process, no Docker. Development and tests only; production runs the worker runtime and the API."""
