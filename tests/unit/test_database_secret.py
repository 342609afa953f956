"""The database password from Secrets Manager: read on a new connection, cached for a while,
read again after that (a rotated password reaches new connections without a redeploy)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.infrastructure.postgres.engine import create_engine
from pitchlens.infrastructure.postgres.secrets import SecretsManagerPassword

pytestmark = pytest.mark.unit


class FakeSecrets:
    """Secrets Manager's get_secret_value over a dict, counting reads."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.reads = 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.reads += 1
        if SecretId not in self.secrets:
            raise LookupError(f"ResourceNotFoundException: {SecretId}")
        return {"SecretString": self.secrets[SecretId]}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_password_is_cached_then_read_again_after_rotation() -> None:
    secrets = FakeSecrets({"db": '{"username": "pitchlens", "password": "first"}'})
    clock = Clock()
    password = SecretsManagerPassword(secrets, "db", ttl_s=300, clock=clock)
    assert [password(), password()] == ["first", "first"]
    assert secrets.reads == 1
    secrets.secrets["db"] = '{"username": "pitchlens", "password": "rotated"}'
    clock.now = 299
    assert password() == "first"
    clock.now = 300
    assert password() == "rotated"
    assert secrets.reads == 2


@pytest.mark.parametrize(
    ("secrets", "match"),
    [({}, "could not be read"), ({"db": "hunter2"}, "not JSON"), ({"db": '{"user": "x"}'}, "'password'")],
    ids=["missing", "not-json", "no-password"],
)
def test_unusable_secret_is_unavailable(secrets: dict[str, str], match: str) -> None:
    with pytest.raises(ServiceUnavailable, match=match):
        SecretsManagerPassword(FakeSecrets(secrets), "db")()


def test_engine_asks_for_the_password_on_each_new_connection() -> None:
    """The engine passes the current password to the driver for every connection it opens."""
    asked: list[str] = []

    def password() -> str:
        asked.append("x")
        return f"pw-{len(asked)}"

    engine = create_engine("postgresql://pitchlens@127.0.0.1:1/pitchlens", password=password)
    seen: list[Any] = []

    @event.listens_for(engine, "do_connect", retval=True)
    def refuse(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        seen.append(cparams.get("password"))
        raise ConnectionRefusedError("no server in a unit test")

    for _ in range(2):
        with pytest.raises(Exception, match="no server"):
            engine.connect()
    assert seen == ["pw-1", "pw-2"]
