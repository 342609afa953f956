"""The composition root over fakes: the real consumers table and message pipelines, every adapter
replaced by its fake (real state, no services). Queues are simulated by `drain`, which delivers
what the use cases published to the pipeline of the function that consumes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pitchlens.application.clip_calibrator import ClipCalibrator
from pitchlens.application.message_pipeline import MessagePipeline
from pitchlens.application.outcomes import Result
from pitchlens.application.player_placer import PlayerPlacer
from pitchlens.application.uploads import UploadKind
from pitchlens.domain.appearance import AppearanceEncoder
from pitchlens.domain.jobs import Job
from pitchlens.domain.messages import Delivery, Message
from pitchlens.domain.ports import PlannedUpload, StoredObject, UnitOfWork
from pitchlens.domain.vision import FrameTracks, MultiObjectTracker
from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.intervals_csv import CsvIntervalReader
from pitchlens.infrastructure.settings import Settings
from tests.fakes.adapters import (
    FakeClock,
    FakeDatabase,
    FakeMatchSource,
    FakeObjectStorage,
    FakeParser,
    FakePublisher,
    FakeStaging,
    FakeUnitOfWork,
)
from tests.fakes.highlights import GameVideoEditor
from tests.fakes.vision import (
    FakeDetectionModel,
    FakeIndicatorRenderer,
    FakePitchArea,
    FakeTeams,
    FakeTracker,
    FakeTrajectoryStore,
    FakeVideoReader,
    FakeVideoStore,
    SameBoxLook,
    SameLook,
    StillCamera,
)


@dataclass
class Observed:
    """What the pipelines reported to their observer, in order."""

    results: list[tuple[str, Result]] = field(default_factory=list)

    def handled(self, function: str, message: Message, result: Result) -> None:
        self.results.append((function, result))


class FakeSystem(Container):
    """A Container whose adapters are fakes; `parse` builds the Match of a raw upload."""

    def __init__(self, parse: Callable[..., Any] | None = None, **settings: Any) -> None:
        super().__init__(Settings(**settings))
        self.clock = FakeClock()
        self.database = FakeDatabase()
        self.storage = FakeObjectStorage()
        self.publisher = FakePublisher()
        self.staging = FakeStaging(self.storage)
        self.match_sources = FakeMatchSource(self.storage)
        self.parsers = {"statsbomb": FakeParser(parse or (lambda raw: None))}
        self.videos = FakeVideoStore(self.storage, as_files=True)
        self.video_reader = FakeVideoReader()
        self.detection_model = FakeDetectionModel()
        self.tracking_model = FakeDetectionModel()
        self.trajectories = FakeTrajectoryStore()
        self.indicator_renderer = FakeIndicatorRenderer()
        self.box_appearance = SameBoxLook()
        self.pitch_area = FakePitchArea()
        self.player_placer = PlayerPlacer(self.pitch_area, None, FakeTeams)
        self.clip_calibrator = ClipCalibrator(
            self.unit_of_work,
            self.videos,
            self.video_reader,
            self.trajectories,
            PlayerPlacer(self.pitch_area, StillCamera, FakeTeams, automatic_calibration=False),
            self.clock,
            self.settings.calibration_max_frames,
        )
        self.video_editor = GameVideoEditor()
        self.interval_reader = CsvIntervalReader()
        self.observed = Observed()

    def unit_of_work(self) -> UnitOfWork:
        return FakeUnitOfWork(self.database)

    def tracker(self, fps: float) -> MultiObjectTracker:
        return FakeTracker()

    def appearance(self, path: str) -> AppearanceEncoder:
        return SameLook()

    def pipeline(self, function: str) -> MessagePipeline:
        return MessagePipeline(function, self.consumers, self.unit_of_work, self.clock, self.observed)

    # --- Clients ------------------------------------------------------------------------------
    def send(self, kind: UploadKind, plan: PlannedUpload, data: bytes) -> StoredObject:
        """What a client does with a planned upload: PUT the bytes part by part, then complete it."""
        etags = [
            (
                part.number,
                self.storage.send_part(plan.upload_id, part.number, data[offset : offset + plan.part_size]),
            )
            for part, offset in zip(plan.parts, range(0, max(len(data), 1), plan.part_size), strict=False)
        ]
        return self.upload_completer.execute(kind, plan.key, plan.upload_id, etags)

    # --- Delivering --------------------------------------------------------------------------
    def deliver(
        self,
        message: Message,
        key: str = "key-1",
        attempt: int = 1,
        correlation_id: str = "corr",
        *,
        force: bool = False,
    ) -> list[Result]:
        """Hands `message` to the pipeline of the function that consumes it, as its queue would
        (`force`: as `pitchlens replay --force` would)."""
        function = self.consumers[type(message)].function
        delivery = Delivery(correlation_id, key, attempt, self.settings.max_receive_count)
        return self.pipeline(function).handle(message, delivery, force=force)

    def drain(self, until: type[Message] | None = None) -> list[Result]:
        """Delivers every published message in order (stopping before one of type `until`);
        a message whose handling raises stays published and the error propagates."""
        results: list[Result] = []
        while self.publisher.sent:
            message, correlation_id, key = self.publisher.sent[0]
            if until is not None and isinstance(message, until):
                break
            results.extend(self.deliver(message, key, correlation_id=correlation_id))
            self.publisher.sent.pop(0)
        return results

    def job(self, job_id: str | None = None) -> Job:
        if job_id is None:
            [job] = self.database.jobs.values()
            return job
        return self.database.jobs[job_id]

    def published(self, kind: type[Message]) -> list[Message]:
        return [message for message, _, _ in self.publisher.sent if isinstance(message, kind)]

    def staged_tracks(self) -> dict[str, list[FrameTracks]]:
        return self.trajectories.staged
