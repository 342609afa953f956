"""Videos and detection artifacts in S3-compatible storage."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any

import cv2
import numpy as np
import orjson
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from pitchlens.domain.camera import PitchArea
from pitchlens.domain.errors import ObjectNotFound, ServiceUnavailable
from pitchlens.domain.vision import DetectionArtifacts, FrameDetections, VideoStore
from pitchlens.infrastructure.storage.s3 import content_type, split_uri

JPEG_QUALITY = 92


def detections_document(
    detections: FrameDetections, on_pitch: Sequence[bool] | None = None
) -> list[dict[str, float | int | str | bool | None]]:
    """`detections.json`: one object per box, in pixels of the source frame, with `on_pitch`: its
    foot point on the playing area (null when not judged)."""
    boxes = np.asarray(detections.boxes, dtype=float).reshape(-1, 4)
    flags: Sequence[bool | None] = list(on_pitch) if on_pitch is not None else [None] * len(boxes)
    return [
        {
            "x1": round(float(x1), 1),
            "y1": round(float(y1), 1),
            "x2": round(float(x2), 1),
            "y2": round(float(y2), 1),
            "confidence": round(float(confidence), 4),
            "class": "person" if int(class_id) == 0 else str(int(class_id)),
            "on_pitch": None if flag is None else bool(flag),
        }
        for (x1, y1, x2, y2), confidence, class_id, flag in zip(
            boxes, detections.confidences, detections.class_ids, flags, strict=True
        )
    ]


READABLE_S = 6 * 3600
"""How long a worker may read a video through one presigned URL (a segment of a long match)."""


@contextmanager
def _reading(uri: str, verb: str) -> Iterator[None]:
    """Storage errors of reading `uri` as domain errors: ObjectNotFound for a missing object
    (worth a retry: a notification can arrive before its object is visible), else ServiceUnavailable."""
    try:
        yield
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            raise ObjectNotFound(f"{uri} does not exist") from error
        raise ServiceUnavailable(f"could not {verb} {uri}: {error}") from error
    except BotoCoreError as error:
        raise ServiceUnavailable(f"could not {verb} {uri}: {error}") from error


class S3VideoStore(VideoStore):
    """Downloads videos to temporary files and writes detection frames and JSON next to them."""

    def __init__(
        self,
        client: Any,
        artifacts_bucket: str,
        scratch_dir: str | None = None,
        outputs_bucket: str = "outputs",
        pitch_area: PitchArea | None = None,
    ) -> None:
        self._pitch_area = pitch_area
        self._client = client
        self._artifacts = artifacts_bucket
        self._outputs = outputs_bucket
        self._scratch_dir = scratch_dir

    @contextmanager
    def local_copy(self, uri: str) -> Iterator[str]:
        bucket, key = split_uri(uri)
        handle, path = tempfile.mkstemp(suffix=PurePosixPath(key).suffix, dir=self._scratch_dir)
        os.close(handle)
        try:
            with _reading(uri, "download"):
                self._client.download_file(bucket, key, path)
            yield path
        finally:
            os.unlink(path)

    def readable(self, uri: str) -> str:
        """A presigned GET of the object (valid READABLE_S), which PyAV's decoder reads with range
        requests: a worker reads what it decodes (the index, then its frames), not the whole file."""
        bucket, key = split_uri(uri)
        with _reading(uri, "read"):
            self._client.head_object(Bucket=bucket, Key=key)
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=READABLE_S
            )
        return url

    def publish_output(self, path: str, key: str) -> str:
        """One `upload_file` (multipart above 8 MB): S3, MinIO and moto show the object only once
        the upload completed, so readers never see part of a video; a failed upload leaves nothing."""
        uri = f"s3://{self._outputs}/{key}"
        try:
            self._client.upload_file(path, self._outputs, key, ExtraArgs={"ContentType": content_type(key)})
        except (ClientError, BotoCoreError, S3UploadFailedError) as error:
            raise ServiceUnavailable(f"could not upload {uri}: {error}") from error
        return uri

    def save_detection(
        self, match_id: str, clip_id: str, image: Any, detections: FrameDetections
    ) -> DetectionArtifacts:
        prefix = f"{match_id}/{clip_id}"
        encoded, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not encoded:
            raise ValueError("the detection frame could not be encoded as JPEG")
        frame_key = f"{prefix}/frame_{detections.frame_index}.jpg"
        on_pitch = None
        if self._pitch_area is not None:
            on_pitch = self._pitch_area.on_pitch(image, detections.boxes)
        document = {
            "frame_index": detections.frame_index,
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
            "detections": detections_document(detections, on_pitch),
        }
        try:
            self._client.put_object(
                Bucket=self._artifacts, Key=frame_key, Body=jpeg.tobytes(), ContentType="image/jpeg"
            )
            self._client.put_object(
                Bucket=self._artifacts,
                Key=f"{prefix}/detections.json",
                Body=orjson.dumps(document, option=orjson.OPT_INDENT_2),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable(f"could not write detection artifacts: {error}") from error
        return DetectionArtifacts(
            frame_uri=f"s3://{self._artifacts}/{frame_key}",
            detections_uri=f"s3://{self._artifacts}/{prefix}/detections.json",
        )
