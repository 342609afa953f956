from __future__ import annotations

import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pitchlens.application.highlight_cutter import safe_name
from pitchlens.domain.highlights import HighlightError, VideoEditor
from pitchlens.domain.vision import VideoStore

FINAL_FOLDER = "final"


def final_key(game: str, player: str, folder: str | None = None) -> str:
    """`final/{game}_{player}_tracked.mp4` (names reduced to safe file-name characters), or
    `final/{folder}/...` to keep one session's reel apart from another's of the same names."""
    name = f"{safe_name(game, 'game')}_{safe_name(player, 'player')}_tracked.mp4"
    return f"{FINAL_FOLDER}/{folder}/{name}" if folder else f"{FINAL_FOLDER}/{name}"


@dataclass(frozen=True, slots=True)
class FinalVideo:
    uri: str
    clips: int
    stream_copied: bool
    """True when the clips shared one format and were joined without re-encoding."""


class TrackedClipConcatenator:
    """The seed's `concat_tracked_clips`: rendered clips (`s3://` URIs, in order) joined into
    `final/{game}_{player}_tracked.mp4` in the outputs bucket. Clips of one size and frame rate are
    stream-copied; others are normalised to the first clip's (VideoEditor.concat). The final video is
    published only once it is complete."""

    def __init__(self, videos: VideoStore, editor: VideoEditor) -> None:
        self._videos = videos
        self._editor = editor

    def execute(self, game: str, player: str, clip_uris: Sequence[str]) -> FinalVideo:
        key = final_key(game, player)
        if not clip_uris:
            raise HighlightError(f"{key}: no clips to concatenate")
        with ExitStack() as stack:
            paths = [Path(stack.enter_context(self._videos.local_copy(uri))) for uri in clip_uris]
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pitchlens-final-")))
            joined = self._editor.concat(paths, scratch / Path(key).name)
            uri = self._videos.publish_output(str(joined.path), key)
        return FinalVideo(uri=uri, clips=len(clip_uris), stream_copied=joined.stream_copied)
