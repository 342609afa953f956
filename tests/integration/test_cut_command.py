"""`pitchlens cut` as a user runs it: CSV of intervals -> merged clips -> one highlights video."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

pytestmark = pytest.mark.integration


def cut(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pitchlens.runtime.cli", "cut", *args, "--no-upload"],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_overlapping_intervals_are_merged_into_one_highlights_video(
    shared_data: Path, tmp_path: Path
) -> None:
    intervals = tmp_path / "intervals.csv"
    intervals.write_text("start,end,label\n0:01,0:02.5,run\n0:02,0:03,shot\n4,5.5,tackle\n")
    game = shared_data / "video" / "dfl_08fd33_4_848x478.mp4"
    result = cut(
        str(game), str(intervals), "--game", "g1", "--player", "p9", "--out-dir", str(tmp_path), "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["intervals"] == [[1.0, 3.0], [4.0, 5.5]]
    assert summary["output"] == str(tmp_path / "g1_p9.mp4")
    with av.open(summary["output"]) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        duration = float(container.duration) / av.time_base
    assert duration == pytest.approx(3.5, abs=0.15)


def test_a_csv_with_unknown_columns_is_refused_and_nothing_is_written(
    shared_data: Path, tmp_path: Path
) -> None:
    intervals = tmp_path / "intervals.csv"
    intervals.write_text("start,end,minute\n1,2,3\n")
    game = shared_data / "video" / "dfl_08fd33_4_848x478.mp4"
    result = cut(
        str(game), str(intervals), "--game", "g", "--player", "p", "--out-dir", str(tmp_path / "out")
    )
    assert result.returncode == 1 and "minute" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
