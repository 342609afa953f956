"""Rendering benchmarks: `FfmpegIndicatorRenderer` against a bare ffmpeg transcode at the same
preset, measured side by side in one run.

* preview of the shared 720p broadcast clip with each indicator (dot, circle, glow), the followed
  player a synthetic track (see `synthetic_track`), against
  `ffmpeg -i clip -vf fps=30,scale=W:H -c:v libx264 -preset ultrafast -crf 28 -pix_fmt yuv420p
  -c:a copy -movflags +faststart` at the output size the renderer picks (target: <= 1.25x the
  bare transcode's time). Medians of REPEATS; the runs are interleaved (the order rotated each
  repeat) so load on a shared machine hits ours and the baseline alike;
* each shared clip at the preview and the final preset with the minimap (22 dots on every frame)
  and without it (target: <= 1.15x the time without), medians of REPEATS, interleaved;
* a 15 s 3840x2160 60 fps clip made from the 720p clip (once per run, in a temporary folder, not
  timed: ~1.5 min), rendered once with `circle` at the preview preset (target <= 120 s) next to
  the bare transcode at the same preset (~25 s each on 2 cores);
* the same clip at the final preset (target <= 600 s), next to the bare transcode at the final
  preset, once each. Both are x264 `medium` encodes at 4K 60 fps, 3-6 minutes each on a 2-core
  machine (most of this section's ~10-14 minutes, and of `make bench`'s ~14-18);
  PITCHLENS_BENCH_4K_FINAL=0 leaves them out for a quick run (the section then takes ~4 minutes).

`python -m tests.benchmarks.rendering [--shared DIR] [--no-4k-final] [--repeats N] [--minimap-only]`
prints the table on its own.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pitchlens.domain.rendering import PRESETS, Indicator, PitchPositions, RenderedVideo, RenderPreset
from pitchlens.domain.vision import BoundingBox, TrackingFrame
from pitchlens.infrastructure.rendering import FfmpegIndicatorRenderer
from pitchlens.infrastructure.video_editing import COPYABLE_AUDIO, find_ffmpeg, probe_media
from pitchlens.infrastructure.vision.video import PyAVVideoReader

Row = tuple[str, str, str, str, str]

CLIP = "laliga_rma_sev_broadcast_720p.mp4"
WARM_UP_CLIP = "dfl_08fd33_4_848x478.mp4"
REPEATS = 3
PREVIEW_TARGET = 1.25
UHD_FINAL_ENV = "PITCHLENS_BENCH_4K_FINAL"
UHD_SIZE = (3840, 2160)
UHD_FPS = 60
UHD_SECONDS = 15
UHD_INDICATOR = Indicator.CIRCLE
UHD_PREVIEW_TARGET_S = 120.0
UHD_FINAL_TARGET_S = 600.0
PLAYER_SIZE_720P = (25.0, 60.0)
"""A far-camera broadcast player's box, width x height, in a 720-line frame."""
LOST_SHARE = 0.10
LOST_RUNS = (0.22, 0.51, 0.83)
"""Where (fraction of the clip) the track is lost, LOST_SHARE of the frames split among them."""


def synthetic_track(frames: int, width: int, height: int) -> list[TrackingFrame]:
    """One TrackingFrame per frame, as the follow step emits them: a ~25x60 px box (at 720 lines;
    scaled with the frame) whose centre crosses the frame from 8% to 92% of its width on an eased
    path, weaving up and down, the box a little larger lower in the frame (perspective) and
    jittering by about a pixel (detector noise). Lost for LOST_SHARE of the frames, in three runs
    (LOST_RUNS): there the frame carries the last box seen, `lost=True`, and must get no indicator."""
    scale = height / 720
    run = max(1, round(frames * LOST_SHARE / len(LOST_RUNS)))
    lost = {start + k for at in LOST_RUNS for start in [round(at * frames)] for k in range(run)}
    track: list[TrackingFrame] = []
    last: BoundingBox | None = None
    for index in range(frames):
        t = index / max(1, frames - 1)
        progress = t - math.sin(2 * math.pi * t) / (2 * math.pi)  # eased: slow start and finish
        cx = width * (0.08 + 0.84 * progress) + 1.1 * scale * math.sin(index * 1.7)
        cy = height * (0.55 + 0.12 * math.sin(2 * math.pi * 1.5 * t)) + 0.9 * scale * math.cos(index * 2.3)
        grow = 0.85 + 0.3 * cy / height
        half_width = PLAYER_SIZE_720P[0] * scale * grow / 2
        half_height = PLAYER_SIZE_720P[1] * scale * grow / 2
        if index in lost:
            track.append(TrackingFrame(index, last, 0.0, lost=True))
            continue
        last = BoundingBox(cx - half_width, cy - half_height, cx + half_width, cy + half_height)
        confidence = 0.75 + 0.2 * math.sin(index * 0.37) ** 2
        track.append(TrackingFrame(index, last, confidence))
    return track


MINIMAP_CLIPS = (WARM_UP_CLIP, CLIP)
MINIMAP_TARGET = 1.15
MINIMAP_TEAMS = ("white",) * 11 + ("green",) * 10 + ("other",)
"""22 people on the minimap: two teams of 11 and 10 (one off the picture) and the referee."""


def synthetic_positions(frames: int) -> list[PitchPositions]:
    """One PitchPositions per frame with every frame calibrated and 22 people on it (the minimap's
    dearest case: every dot drawn), drifting about the pitch; the followed player is one of them."""
    found = []
    for index in range(frames):
        t = index / 25
        xy = tuple(
            (
                -48 + 96 * ((k * 0.37 + 0.011 * t * (1 + k % 3)) % 1.0),
                -31 + 62 * ((k * 0.61 + 0.013 * t * (1 + k % 2)) % 1.0),
            )
            for k in range(len(MINIMAP_TEAMS))
        )
        found.append(PitchPositions(index, xy, MINIMAP_TEAMS, 3, True))
    return found


def bare_command(
    ffmpeg: str, source: Path, target: Path, preset: RenderPreset, width: int, height: int, audio: str | None
) -> list[str]:
    """The baseline: one ffmpeg transcode at `preset` (its frame rate and size through the fps
    and scale filters, as the renderer's output), sound copied (AAC) or encoded to AAC."""
    filters = []
    if preset.fps is not None:
        fps = Fraction(preset.fps).limit_denominator(1001)
        filters.append(f"fps={fps.numerator}/{fps.denominator}")
    if preset.height is not None:
        out_width, out_height = preset.output_size(width, height)
        filters.append(f"scale={out_width}:{out_height}")
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
    command += ["-vf", ",".join(filters)] if filters else []
    command += ["-map", "0:v:0", "-c:v", "libx264", "-preset", preset.x264_preset]
    command += ["-crf", str(preset.crf), "-pix_fmt", preset.pix_fmt]
    if audio is not None:
        command += ["-map", "0:a:0", "-c:a", "copy" if audio in COPYABLE_AUDIO else "aac"]
    return [*command, "-movflags", "+faststart", str(target)]


@dataclass(frozen=True, slots=True)
class Timing:
    wall_s: float
    cpu_s: float
    """User + system time of this process (PyAV's decoder threads included) and of the children it
    waited for (ffmpeg): what the work cost, whatever else the machine was doing meanwhile."""


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(work: Callable[[], object]) -> Timing:
    """Wall and CPU seconds `work` took, the garbage collector run before and kept out during (as
    timeit)."""
    gc.collect()
    gc.disable()
    try:
        cpu, started = _cpu_s(), time.perf_counter()
        work()
        return Timing(time.perf_counter() - started, _cpu_s() - cpu)
    finally:
        gc.enable()


def _video_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


class _Bench:
    """The renderer, the ffmpeg executable and a scratch folder; one call = one timed run."""

    def __init__(self, scratch: Path) -> None:
        self.ffmpeg = find_ffmpeg()
        self.reader = PyAVVideoReader()
        self.renderer = FfmpegIndicatorRenderer(self.reader, ffmpeg=self.ffmpeg)
        self.scratch = scratch
        self.tracks: dict[Path, list[TrackingFrame]] = {}
        self.positions: dict[Path, list[PitchPositions]] = {}
        self.last_render: RenderedVideo | None = None

    def track(self, source: Path) -> list[TrackingFrame]:
        if source not in self.tracks:
            info = self.reader.probe(str(source))
            self.tracks[source] = synthetic_track(info.frames, info.width, info.height)
        return self.tracks[source]

    def ours(self, source: Path, indicator: Indicator, preset: RenderPreset, minimap: bool = False) -> Timing:
        target = self.scratch / f"ours-{preset.name}-{indicator.value}{'-minimap' if minimap else ''}.mp4"
        followed = self.track(source)
        if minimap and source not in self.positions:
            self.positions[source] = synthetic_positions(len(followed))
        positions = self.positions[source] if minimap else None

        def render() -> None:
            self.last_render = self.renderer.render(
                str(source), str(target), followed, indicator, preset, minimap=positions
            )

        timing = _timed(render)
        _check(target, expect_audio=probe_media(source).format.audio is not None)
        return timing

    def bare(self, source: Path, preset: RenderPreset) -> tuple[Timing, int]:
        """(timing, frames written) of the baseline transcode."""
        media = probe_media(source)
        audio = media.format.audio.codec if media.format.audio else None
        target = self.scratch / f"bare-{preset.name}.mp4"
        command = bare_command(
            self.ffmpeg, source, target, preset, media.format.width, media.format.height, audio
        )
        timing = _timed(lambda: subprocess.run(command, check=True))
        _check(target, expect_audio=audio is not None)
        return timing, _video_frames(target)


def _check(path: Path, *, expect_audio: bool) -> None:
    media = probe_media(path)
    assert media.format.codec == "h264" and media.format.pix_fmt == "yuv420p", media.format
    assert (media.format.audio is not None) == expect_audio, f"{path.name}: audio {media.format.audio}"


def _progress(message: str) -> None:
    print(f"[rendering] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _describe(source: Path) -> tuple[str, int]:
    info = PyAVVideoReader().probe(str(source))
    rate = f"{info.fps:.2f}".rstrip("0").rstrip(".")
    return f"{info.width}x{info.height} {rate} fps, {info.frames} frames", info.frames


def preview_rows(bench: _Bench, shared: Path, repeats: int = REPEATS) -> list[Row]:
    clip = shared / "data" / "video" / CLIP
    preset = PRESETS["preview"]
    # Warm-up, not timed: the ffmpeg binary and libraries into the page cache, lazy imports.
    warm_up = shared / "data" / "video" / WARM_UP_CLIP
    bench.bare(warm_up, preset)
    bench.ours(warm_up, Indicator.CIRCLE, preset)

    contenders: list[Indicator | None] = [None, *Indicator]  # None: the bare transcode
    times: dict[Indicator | None, list[Timing]] = {kind: [] for kind in contenders}
    renders: dict[Indicator, RenderedVideo] = {}
    bare_frames = 0
    for repeat in range(repeats):
        # Rotate the order so no contender always runs first or right after another.
        shift = repeat % len(contenders)
        for kind in contenders[shift:] + contenders[:shift]:
            if kind is None:
                timing, bare_frames = bench.bare(clip, preset)
            else:
                timing = bench.ours(clip, kind, preset)
                assert bench.last_render is not None
                renders[kind] = bench.last_render
            times[kind].append(timing)
            _progress(
                f"preview {kind.value if kind else 'bare ffmpeg'}: {timing.wall_s:.2f} s "
                f"({timing.cpu_s:.2f} CPU-s)"
            )

    described, frames = _describe(clip)
    followed = bench.track(clip)
    seen = sum(1 for item in followed if not item.lost)
    wall = {kind: statistics.median(t.wall_s for t in runs) for kind, runs in times.items()}
    cpu = {kind: statistics.median(t.cpu_s for t in runs) for kind, runs in times.items()}
    bare_s = wall[None]
    out = renders[Indicator.CIRCLE]
    rows: list[Row] = []
    for kind in Indicator:
        rendered = renders[kind]
        # Same work as the baseline: as many frames out; the indicator on every seen frame only.
        assert abs(rendered.frames - bare_frames) <= 1, (rendered.frames, bare_frames)
        assert rendered.marked_frames == seen, (rendered.marked_frames, seen)
        ours_s = wall[kind]
        rows.append(
            (
                f"preview render, {CLIP} ({described}), `{kind.value}` on {seen} of {frames} frames",
                f"{ours_s:.2f} s ({rendered.frames / ours_s:.0f} frames/s)",
                f"{bare_s:.2f} s (ffmpeg transcode, same preset)",
                f"{ours_s / bare_s:.2f}x the time",
                f"<= {PREVIEW_TARGET}x",
            )
        )
    rows.append(
        (
            "  CPU time (user + sys, PyAV threads and ffmpeg included): "
            + " / ".join(kind.value for kind in Indicator),
            " / ".join(f"{cpu[kind]:.2f} s" for kind in Indicator),
            f"{cpu[None]:.2f} s",
            " / ".join(f"{cpu[kind] / cpu[None]:.2f}x" for kind in Indicator),
            "-",
        )
    )
    rows.append(
        (
            f"  preview output: {out.width}x{out.height} {out.fps:g} fps, libx264 {preset.x264_preset} "
            f"CRF {preset.crf}, AAC copied",
            f"{out.frames} frames",
            f"{bare_frames} frames",
            "-",
            f"medians of {repeats}, interleaved",
        )
    )
    return rows


def minimap_rows(bench: _Bench, shared: Path, repeats: int = REPEATS) -> list[Row]:
    """Each shared clip at the preview and the final preset with the minimap (22 dots on every
    frame) and without it, `circle` on the followed player, interleaved; medians of `repeats`."""
    bench.ours(shared / "data" / "video" / WARM_UP_CLIP, UHD_INDICATOR, PRESETS["preview"], minimap=True)
    rows: list[Row] = []
    for name in MINIMAP_CLIPS:
        clip = shared / "data" / "video" / name
        described, _ = _describe(clip)
        for preset in (PRESETS["preview"], PRESETS["final"]):
            times: dict[bool, list[float]] = {True: [], False: []}
            cpu: dict[bool, list[float]] = {True: [], False: []}
            frames = 0
            for repeat in range(repeats):
                for minimap in (True, False) if repeat % 2 == 0 else (False, True):
                    timing = bench.ours(clip, UHD_INDICATOR, preset, minimap=minimap)
                    assert bench.last_render is not None
                    frames = bench.last_render.frames
                    if minimap:
                        assert bench.last_render.minimap_frames == bench.last_render.source_frames
                    times[minimap].append(timing.wall_s)
                    cpu[minimap].append(timing.cpu_s)
                    which = "with" if minimap else "without"
                    _progress(f"{preset.name} {name} {which} minimap: {timing.wall_s:.2f} s")
            with_s, without_s = statistics.median(times[True]), statistics.median(times[False])
            with_cpu, without_cpu = statistics.median(cpu[True]), statistics.median(cpu[False])
            rows.append(
                (
                    f"{preset.name} render with the minimap, {name} ({described}), 22 dots a frame",
                    f"{with_s:.2f} s ({frames / with_s:.1f} frames/s; {with_cpu:.1f} CPU-s)",
                    f"{without_s:.2f} s ({frames / without_s:.1f} frames/s; {without_cpu:.1f} CPU-s) without",
                    f"{with_s / without_s:.2f}x the time, {with_cpu / without_cpu:.2f}x the CPU",
                    f"<= {MINIMAP_TARGET}x",
                )
            )
    return rows


def make_uhd_clip(ffmpeg: str, source: Path, target: Path) -> None:
    """UHD_SECONDS of `source` (looped if shorter) scaled to UHD_SIZE at UHD_FPS, H.264 `veryfast`
    CRF 20 (CABAC and B-frames, so it decodes like a camera's or broadcaster's file, which
    `ultrafast` would not), AAC sound."""
    width, height = UHD_SIZE
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-stream_loop", "-1", "-i", str(source), "-t", str(UHD_SECONDS)]
    command += ["-vf", f"scale={width}:{height}:flags=bicubic,fps={UHD_FPS}"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
    command += ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(target)]
    subprocess.run(command, check=True)


def uhd_rows(bench: _Bench, shared: Path, *, final: bool) -> list[Row]:
    """The 4K clip's preview render (and its final render with `final`), each once, each next to
    the bare transcode at the same preset."""
    clip = bench.scratch / f"uhd_{UHD_SIZE[0]}x{UHD_SIZE[1]}_{UHD_FPS}fps_{UHD_SECONDS}s.mp4"
    _progress("making the 4K clip (not timed)")
    started = time.perf_counter()
    make_uhd_clip(bench.ffmpeg, shared / "data" / "video" / CLIP, clip)
    _progress(f"4K clip made in {time.perf_counter() - started:.0f} s")
    described, _ = _describe(clip)
    label = f"generated {UHD_SECONDS} s clip ({described})"
    rows: list[Row] = []
    runs = [(PRESETS["preview"], UHD_PREVIEW_TARGET_S)]
    if final:
        runs.append((PRESETS["final"], UHD_FINAL_TARGET_S))
    for preset, target_s in runs:
        _progress(f"4K {preset.name} render")
        ours = bench.ours(clip, UHD_INDICATOR, preset)
        rendered = bench.last_render
        assert rendered is not None
        _progress(f"4K {preset.name} render: {ours.wall_s:.1f} s ({ours.cpu_s:.1f} CPU-s); bare ffmpeg")
        bare, bare_frames = bench.bare(clip, preset)
        _progress(f"4K {preset.name} bare ffmpeg: {bare.wall_s:.1f} s ({bare.cpu_s:.1f} CPU-s)")
        assert abs(rendered.frames - bare_frames) <= 1, (rendered.frames, bare_frames)
        rows.append(
            (
                f"{preset.name} render, {label} -> {rendered.width}x{rendered.height} {rendered.fps:g} "
                f"fps, libx264 {preset.x264_preset} CRF {preset.crf}, `{UHD_INDICATOR.value}`, one run",
                f"{ours.wall_s:.1f} s ({rendered.frames / ours.wall_s:.1f} frames/s out; "
                f"{ours.cpu_s:.0f} CPU-s)",
                f"{bare.wall_s:.1f} s (ffmpeg transcode, same preset; {bare.cpu_s:.0f} CPU-s)",
                f"{ours.wall_s / bare.wall_s:.2f}x the time",
                f"<= {target_s:.0f} s",
            )
        )
    if not final:
        rows.append(
            (
                f"final render, {label}: skipped ({UHD_FINAL_ENV}=0; with its baseline 6-12 min on 2 cores)",
                "-",
                "-",
                "-",
                f"<= {UHD_FINAL_TARGET_S:.0f} s",
            )
        )
    return rows


def uhd_final_requested() -> bool:
    """On unless PITCHLENS_BENCH_4K_FINAL is 0 / false / no / off."""
    return os.environ.get(UHD_FINAL_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def run(shared: Path, *, uhd_final: bool | None = None, repeats: int = REPEATS) -> list[Row]:
    """Rows of (measurement, PitchLens, baseline, ratio, target). `uhd_final` None: as the
    PITCHLENS_BENCH_4K_FINAL environment variable."""
    final = uhd_final_requested() if uhd_final is None else uhd_final
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pitchlens-bench-render-") as tmp:
        bench = _Bench(Path(tmp))
        rows = preview_rows(bench, shared, repeats)
        rows += minimap_rows(bench, shared, repeats)
        rows += uhd_rows(bench, shared, final=final)
    rows.append(
        (
            "  load average (1 min) at start / end of this section",
            f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
            "-",
            "-",
            "-",
        )
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from tests.benchmarks.run import REPO, render

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument(
        "--no-4k-final", dest="uhd_final", action="store_false", default=None, help=f"as {UHD_FINAL_ENV}=0"
    )
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--minimap-only", action="store_true", help="only the minimap's rows")
    args = parser.parse_args(argv)
    if args.minimap_only:
        with tempfile.TemporaryDirectory(prefix="pitchlens-bench-render-") as tmp:
            load = os.getloadavg()[0]
            rows = minimap_rows(_Bench(Path(tmp)), args.shared, args.repeats)
            rows.append(
                (
                    "  load average (1 min) at start / end",
                    f"{load:.1f} / {os.getloadavg()[0]:.1f}",
                    "-",
                    "-",
                    "-",
                )
            )
        print(render("Rendering: the minimap", rows))
        return 0
    print(render("Rendering", run(args.shared, uhd_final=args.uhd_final, repeats=args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
