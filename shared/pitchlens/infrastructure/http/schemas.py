"""Schemas the API's routers share."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pitchlens.application.uploads import UploadKind
from pitchlens.domain.jobs import Job
from pitchlens.domain.ports import PlannedUpload

API = "/api/v1"


class PartView(BaseModel):
    number: int
    url: str


class UploadPlanView(BaseModel):
    """PUT each part's bytes to its URL (parts of `part_size`, the last one shorter), keep each
    response's ETag header, then POST them to `complete_url`."""

    kind: UploadKind
    uri: str
    key: str
    upload_id: str
    part_size: int
    parts: list[PartView]
    expires_in_s: int
    complete_url: str
    job_id: str | None = Field(description="video: the processing job (PENDING until the upload completes)")
    status_url: str | None

    @classmethod
    def of(cls, kind: UploadKind, plan: PlannedUpload, job: Job | None) -> UploadPlanView:
        return cls(
            kind=kind,
            uri=f"s3://{plan.bucket}/{plan.key}",
            key=plan.key,
            upload_id=plan.upload_id,
            part_size=plan.part_size,
            parts=[PartView(number=part.number, url=part.url) for part in plan.parts],
            expires_in_s=plan.expires_in_s,
            complete_url=f"{API}/uploads/complete",
            job_id=job.job_id if job else None,
            status_url=f"{API}/jobs/{job.job_id}" if job else None,
        )
