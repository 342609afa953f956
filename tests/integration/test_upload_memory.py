"""`pitchlens process` of a long video against a real embedded stack (its own process: moto's S3
server, the API, PostgreSQL) holds neither the file nor its parts in memory, on either side.

The video is the shared DFL clip looped 200 times (`-stream_loop`, stream copy: 217 MB, 14 parts of
16 MB), made here and deleted after. Before streaming, the CLI held parts as they went (RSS grew
with the file) and the stack grew by more than the file (moto's copies of each part, glibc's heaps);
measured on the 868 MB match: CLI 116 MB, stack +62 MB."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.match import embedded_stack, functions_without, looped, process_upload
from tests.conftest import service_dir
from tests.rss import MB

pytestmark = pytest.mark.integration

LOOPS = 200
CLI_PEAK_MB = 180
"""The CLI's imports alone take ~115 MB; the file is 217 MB."""
STACK_GROWTH_MB = 100
"""A few 16 MB parts in flight (read whole by moto) and what the first request loads."""


def test_a_long_video_is_uploaded_with_bounded_memory_in_the_cli_and_the_stack(shared_data: Path) -> None:
    with service_dir("upload-memory") as folder:
        video = looped(shared_data.parent, LOOPS, folder)
        # Without detection and tracking: what is measured is the upload, not the work after it.
        functions = functions_without({"detect", "track"}, folder / "functions")
        with embedded_stack(folder / "stack", PITCHLENS_FUNCTIONS_DIR=str(functions)) as stack:
            upload = process_upload(stack, video, wait_s=1.0)

    assert upload.size > 200 * MB
    assert upload.cli_peak < CLI_PEAK_MB * MB, f"the CLI peaked at {upload.cli_peak / MB:.0f} MB"
    growth = upload.stack_peak - upload.stack_first
    assert growth < STACK_GROWTH_MB * MB, (
        f"the stack grew by {growth / MB:.0f} MB during a {upload.size / MB:.0f} MB upload"
    )
