"""boto3 clients built from Settings: one place for endpoints, region, timeouts and retries."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from pitchlens.infrastructure.settings import Settings

# Fail fast when a service is down (the queue retries the message later), but ride out blips.
_CONFIG = Config(
    connect_timeout=3,
    read_timeout=30,
    retries={"max_attempts": 3, "mode": "standard"},
    # Bodies are not hashed for the signature: over HTTPS (AWS) a CRC32 checksum covers them
    # anyway, and over plain HTTP (local servers) hashing a 60 MB Parquet file costs 0.5 s.
    s3={"addressing_style": "path", "payload_signing_enabled": False},
    # Presigned URLs with Signature Version 4 (X-Amz-Signature): botocore would otherwise presign
    # with version 2 for a custom endpoint in us-east-1, which S3-compatible servers (compose's
    # SeaweedFS) refuse with 403 SignatureDoesNotMatch.
    signature_version="s3v4",
)


def _credentials(endpoint: str | None) -> tuple[str | None, str | None]:
    """(key id, secret): None for the normal credential chain. Local S3/SQS servers accept any
    key, so with a custom endpoint and no credentials configured, a placeholder is used."""
    if endpoint is None or boto3.session.Session().get_credentials() is not None:
        return None, None
    return "pitchlens", "pitchlens"


def _client(service: str, endpoint: str | None, settings: Settings) -> Any:
    key_id, secret = _credentials(endpoint)
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=settings.aws_region,
        config=_CONFIG,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def s3_client(settings: Settings) -> Any:
    return _client("s3", settings.s3_endpoint, settings)


def public_s3_client(settings: Settings) -> Any:
    """The S3 client that presigns URLs for clients outside the deployment (browsers, the CLI):
    through `PITCHLENS_S3_PUBLIC_ENDPOINT` when the services reach S3 by an internal name."""
    return _client("s3", settings.s3_public_endpoint or settings.s3_endpoint, settings)


def sqs_client(settings: Settings) -> Any:
    return _client("sqs", settings.sqs_endpoint, settings)


def secretsmanager_client(settings: Settings) -> Any:
    return _client("secretsmanager", None, settings)
