"""The database password kept in AWS Secrets Manager (settings: `database_secret_arn`), so that it
never sits in an environment variable or a template parameter.

The secret is JSON with a `password` field (what RDS writes for a managed master user, and what
the console's "credentials for Amazon RDS database" secrets hold). It is read when a connection is
opened and kept for `ttl_s`: after a rotation, connections opened once the cached value has expired
use the new password, and connections already open keep working (PostgreSQL checks the password
only when a connection starts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from pitchlens.domain.errors import ServiceUnavailable


class SecretsManagerPassword:
    """Callable returning the secret's current `password`, fetched at most once per `ttl_s`."""

    def __init__(
        self,
        client: Any,
        secret_id: str,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[1] >= self._ttl_s:
                self._cached = (self._fetch(), now)
            return self._cached[0]

    def _fetch(self) -> str:
        try:
            text = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
        except Exception as error:  # botocore's errors: no access, no endpoint, throttled
            raise ServiceUnavailable(f"the database secret could not be read: {error}") from error
        try:
            password = orjson.loads(text)["password"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise ServiceUnavailable("the database secret is not JSON with a 'password' field") from error
        return str(password)
