"""The images `make images` built, started here in seconds (part of `make test`): each one's
entrypoint runs and finds what its role needs. Without podman the file is skipped; an image that
was not built is skipped with a message naming `make images` (the builds take 5-25 minutes each on
2 cores, too long for `make test`). What this proves and what it does not: containers really start
(podman, runc), the Lambda images answer through their real entrypoint (awslambdaric) and a local
Runtime API, the worker images' CLI and handlers load; it does not prove the images match the
checkout (they are as old as the last `make images`), nor the AWS and NVIDIA bases (Debian stand-ins).

The long run, the shared clip through the API and worker containers against the embedded stack, is
`make test-images` (tests/integration/test_images.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Iterator

import pytest

from tests.podman_images import (
    FUNCTION,
    FUNCTION_VIDEO,
    GPU_WORKER,
    PODMAN_RUN,
    REPO,
    WORKER,
    RuntimeApi,
    apigw_event,
    image_exists,
    revision,
)

pytestmark = pytest.mark.integration

if shutil.which("podman") is None:
    pytest.skip(
        "podman is not installed (apt-get install podman): no image smoke test", allow_module_level=True
    )


def _needs(image: str) -> None:
    if not image_exists(image):
        pytest.skip(f"{image} is not built: run `make images` (infra/images/build.sh) to smoke-test it")
    built = revision(image)
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if built != head:
        warnings.warn(
            f"{image} was built from {built or 'an unlabelled revision'}, the checkout is at {head}:"
            " `make images` rebuilds it",
            stacklevel=2,
        )


def _python(image: str, code: str, *, timeout: float = 90) -> str:
    """Runs `code` with the image's Python, as its user, from its working directory."""
    result = subprocess.run(
        [*PODMAN_RUN, "--rm", "--entrypoint", "python", image, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def runtime_api() -> Iterator[RuntimeApi]:
    api = RuntimeApi()
    yield api
    api.server.shutdown()


def test_worker_image_entrypoint_and_handlers() -> None:
    """compose's api, cpu-worker, migrate and s3-init: the `pitchlens` entrypoint, its roles, the
    CPU worker's handlers loaded as the worker loads them, and the metrics the roles serve."""
    _needs(WORKER)
    result = subprocess.run(
        [*PODMAN_RUN, "--rm", WORKER, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for role in ("api", "worker", "migrate", "buckets"):
        assert role in result.stdout, f"`pitchlens {role}` missing from the image's CLI"
    out = _python(
        WORKER,
        "import av, cv2, imageio_ffmpeg, mplsoccer, subprocess, prometheus_client\n"
        "from pitchlens.runtime.worker.functions import available_functions, load_handler\n"
        "import pitchlens.infrastructure.metrics\n"
        "names = available_functions(); [load_handler(n) for n in names]\n"
        "subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-version'], check=True, capture_output=True)\n"
        "print(','.join(names))\n"
        "print(prometheus_client.generate_latest().decode())",
    )
    functions, metrics = out.split("\n", 1)
    assert set(functions.split(",")) >= {"ingest", "persist", "render"}
    assert "pitchlens_build_info{" in metrics


def test_api_function_image_answers_through_the_lambda_entrypoint(runtime_api: RuntimeApi) -> None:
    """The API Lambda image as Lambda starts it (`/lambda-entrypoint.sh` + awslambdaric polling a
    Runtime API): an API Gateway event answered, its log line with the request id and cold start."""
    _needs(FUNCTION)
    kind, body, logs = runtime_api.invoke(
        FUNCTION, "functions.api.handler.handler", apigw_event("/api/v1/nowhere")
    )
    assert kind == "response", (body, logs[-3000:])
    assert body["statusCode"] == 404, body
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    request = [line for line in lines if line.get("message") == "request"]
    assert request and request[0]["cold_start"] is True and request[0]["aws_request_id"], logs[-2000:]


def test_function_image_loads_every_queue_handler() -> None:
    _needs(FUNCTION)
    _python(
        FUNCTION,
        "import functions.ingest.handler, functions.persist.handler, functions.migrate.handler\n"
        "import aws_lambda_powertools.metrics, mplsoccer",
    )


def test_render_function_image_has_its_video_stack() -> None:
    _needs(FUNCTION_VIDEO)
    out = _python(
        FUNCTION_VIDEO,
        "import subprocess, imageio_ffmpeg, av, cv2, functions.render.handler\n"
        "print(subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-version'], check=True,"
        " capture_output=True, text=True).stdout)",
    )
    assert "ffmpeg version" in out


def test_gpu_worker_image_has_torch_and_the_vision_handlers() -> None:
    """torch (a CUDA build), ultralytics and OpenVINO import and the detect/track handlers load.
    No GPU here, so CUDA is reported unavailable; the GPU itself is not proven by this test."""
    _needs(GPU_WORKER)
    out = _python(
        GPU_WORKER,
        "import torch, ultralytics, openvino\n"
        "from pitchlens.runtime.worker.functions import load_handler\n"
        "load_handler('detect'); load_handler('track')\n"
        "print(torch.__version__, torch.version.cuda)",
        timeout=180,
    )
    version, cuda = out.split()[-2:]
    assert cuda != "None", f"torch {version} in the GPU image is a CPU-only build"
