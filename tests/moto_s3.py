"""moto's S3 server in this process, for tests and benchmarks that want a real S3 endpoint over HTTP
(range requests, presigned URLs) without a stack."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def moto_s3() -> Iterator[tuple[Any, Any]]:
    """(a boto3 S3 client on the server, path-style addressing; the server), stopped on exit."""
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield (
            boto3.client(
                "s3",
                endpoint_url=f"http://127.0.0.1:{server.get_host_and_port()[1]}",
                region_name="us-east-1",
                aws_access_key_id="pitchlens",
                aws_secret_access_key="pitchlens",
                config=Config(s3={"addressing_style": "path"}),
            ),
            server,
        )
    finally:
        server.stop()
