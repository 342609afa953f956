"""What people notice about the CLI: `--version`, no locals in tracebacks, progress lines that fit an
80-column terminal with their time column whole, `status --env` lines a shell can eval; and what an
events-only install needs: `import pitchlens` and the events paths load nothing heavy."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress
from typer.testing import CliRunner

import pitchlens
from pitchlens.runtime.cli import app
from pitchlens.runtime.cli.app import dlq_app, ingest_app, stage_bars, upload_bar, work_bar
from pitchlens.runtime.cli.stack import environment_lines
from pitchlens.runtime.embedded.stack import StackInfo

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "cv2", "ultralytics", "av", "openvino", "polars", "matplotlib", "mplsoccer", "kloppy")


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"pitchlens {pitchlens.__version__}"


def test_tracebacks_never_show_locals() -> None:
    # Locals can hold database URLs and tokens.
    assert not any(typer_app.pretty_exceptions_show_locals for typer_app in (app, ingest_app, dlq_app))


def _line(make: object, description: str, detail: str, total: float, done: float) -> str:
    sink = io.StringIO()
    console = Console(file=sink, width=80, force_terminal=True, color_system=None)
    progress = Progress(*make(False).columns, console=console)  # type: ignore[operator]
    with progress:
        task = progress.add_task(description, total=total, detail=detail)
        progress.update(task, completed=done)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", sink.getvalue())
    return [line for line in re.split(r"[\r\n]", text) if line.strip()][-1]


@pytest.mark.parametrize("make", [stage_bars, work_bar, upload_bar], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("description", "detail"),
    [
        ("tracking", "152/169 frames"),
        ("cutting", "clip 2/3: 00:01:02.500-00:01:10.000 (accurate re-encode, audio kept)"),
        ("uploading a_very_long_video_file_name_from_the_camera_2026-11-21.mp4", "x"),
    ],
)
def test_progress_lines_fit_80_columns_with_their_times_whole(
    make: object, description: str, detail: str
) -> None:
    line = _line(make, description, detail, 30_000_000, 12_000_000)
    assert len(line) <= 80, line
    assert "…" not in line.split("━")[-1].split("%")[-1].split()[-1]  # the last column is whole
    assert re.search(r"(\d:\d\d:\d\d|--:--)$", line), line
    if make is not upload_bar:
        assert "━" in line and "40%" in line


def test_cut_and_concat_show_a_bar_not_a_spinner() -> None:
    line = _line(work_bar, "joining", "2 clip(s)", 1.0, 0.5)
    assert line.startswith("joining") and "━" in line and "50%" in line


def test_status_env_is_shell_exports() -> None:
    info = StackInfo(
        api_url="http://127.0.0.1:8000",
        s3_endpoint="http://127.0.0.1:4566",
        sqs_endpoint="http://127.0.0.1:4566",
        database_url="postgresql://postgres:@/postgres?host=/tmp/x",
        data_dir="/tmp/a dir",
        pid=1,
        functions=[],
        aws_region="eu-west-1",
    )
    lines = environment_lines(info)
    assert all(line.startswith("export ") for line in lines)
    exported = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert exported["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert exported["AWS_REGION"] == exported["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert exported["AWS_ALLOW_HTTP"] == "true"  # polars / object_store refuse plain http otherwise
    assert exported["PITCHLENS_DATA_DIR"] == "'/tmp/a dir'"  # quoted for the shell
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(exported)


def test_import_pitchlens_and_the_events_paths_load_nothing_heavy() -> None:
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        import pitchlens
        from pitchlens.infrastructure.bootstrap import Container
        from pitchlens.infrastructure.http.app import create_app
        from pitchlens.infrastructure.settings import Settings
        import pitchlens.runtime.cli
        for name in ("api", "ingest", "persist"):
            spec = importlib.util.spec_from_file_location(name, "{REPO}/functions/" + name + "/handler.py")
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        container = Container(Settings(database_url="postgresql://nobody@/none"))
        container.match_ingester, container.match_persister, container.ingestion_requester
        create_app(lambda: container)
        print(",".join(sorted(m for m in {HEAVY!r} if m in sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"loaded: {done.stdout.strip()}"
