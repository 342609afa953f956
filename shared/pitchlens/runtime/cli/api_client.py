"""How the CLI reaches a running PitchLens: its HTTP API, and nothing else. Files go straight to and
from object storage through the presigned URLs the API hands out, read from disk and sent a chunk
at a time (never a whole part in memory), so memory stays bounded whatever the file's or the
part's size. Errors arrive as RFC 9457 problems and read as sentences."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from pitchlens.domain.jobs import JobStatus

PART_ATTEMPTS = 3
DOWNLOAD_CHUNK = 1 << 20
UPLOAD_CHUNK = 1 << 20
EVENTS_PAGE = 1000
"""Events per request (the events route's largest page)."""

EVENT_COLUMNS = {
    "event_id": "string",
    "period": "int16",
    "timestamp": "double",
    "type": "string",
    "raw_type": "string",
    "outcome": "string",
    "team_id": "string",
    "team_name": "string",
    "player_id": "string",
    "player_name": "string",
    "start_x": "double",
    "start_y": "double",
    "end_x": "double",
    "end_y": "double",
    "attributes": "string",
}
"""A match's events as a table (exports, the notebook API), in order, with their Arrow types: one row
per event in match order, coordinates in the PitchLens frame (metres, centre origin, home attacking
+x), `timestamp` in seconds since the start of the period, `attributes` the provider's extras as JSON
text."""


class ApiError(RuntimeError):
    """The API refused a request; `str()` is the problem's detail, for people."""

    def __init__(
        self, status: int, detail: str, error: str = "", problem: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.problem = dict(problem or {})

    def __str__(self) -> str:
        fields = self.problem.get("errors") or []
        where = "; ".join(f"{f.get('location')}: {f.get('message')}" for f in fields) if fields else ""
        detail = self.args[0] if not where or where in self.args[0] else f"{self.args[0]} ({where})"
        return f"{detail} [{self.status} {self.error}]" if self.error else f"{detail} [{self.status}]"


ProgressCallback = Callable[[int], None]
"""Told the number of bytes just moved."""


class ApiClient:
    """A client of one PitchLens API (`PITCHLENS_API_URL`, token `PITCHLENS_API_TOKEN`)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout_s: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )
        # Presigned URLs carry their own signature: no API token may travel with them.
        self._storage = httpx.Client(
            timeout=httpx.Timeout(timeout_s, write=300, read=300), transport=transport
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(0, f"the PitchLens API at {self.base_url} cannot be reached: {error}") from error
        if response.status_code >= 400:
            raise _problem(response)
        return response.json() if response.content else None

    def get_bytes(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """A binary answer (a PNG) as the response, headers included; ApiError for a problem."""
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise ApiError(0, f"the PitchLens API at {self.base_url} cannot be reached: {error}") from error
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def items(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int = 500,
        on_page: Callable[[int, int], None] | None = None,
    ) -> list[Any]:
        """Every item of a paged list route (`total`, `limit`, `offset` and the items under `key`),
        a page at a time; `on_page` is told the items read so far and the total after each."""
        found: list[Any] = []
        while True:
            page = self.request("GET", path, params={**(params or {}), "limit": limit, "offset": len(found)})
            found.extend(page[key])
            if on_page is not None:
                on_page(len(found), page["total"])
            if not page[key] or len(found) >= page["total"]:
                return found

    def event_rows(
        self,
        match_id: str,
        *,
        type: str | None = None,
        player: str | None = None,
        on_page: Callable[[int, int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """A match's events (of one type and/or player) as flat rows with the EVENT_COLUMNS."""
        params = {name: value for name, value in (("type", type), ("player", player)) if value is not None}
        events = self.items(
            f"/api/v1/matches/{match_id}/events", "events", params, limit=EVENTS_PAGE, on_page=on_page
        )
        return [_event_row(event) for event in events]

    # --- Jobs ------------------------------------------------------------------------------------
    def wait_for_job(
        self,
        *,
        job_id: str | None = None,
        correlation_id: str | None = None,
        timeout_s: float = 600,
        on_update: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> Mapping[str, Any]:
        """Polls until the job (by id, or the latest of a correlation id) is final; TimeoutError
        naming its last state otherwise."""
        deadline = time.monotonic() + timeout_s
        job: Mapping[str, Any] | None = None
        while time.monotonic() < deadline:
            if job_id is not None:
                job = self.request("GET", f"/api/v1/jobs/{job_id}")
            else:
                found = self.items("/api/v1/jobs", "jobs", {"correlation_id": correlation_id})
                job = found[-1] if found else None
            if job is not None:
                if on_update is not None:
                    on_update(job)
                if JobStatus(job["status"]).terminal:
                    return job
            time.sleep(0.2)
        seen = f"{job['status']} at {job['stage']}" if job else "no job yet"
        raise TimeoutError(f"the job did not finish within {timeout_s:.0f} s (last seen: {seen})")

    # --- Files -----------------------------------------------------------------------------------
    def upload(
        self,
        path: Path,
        *,
        kind: str,
        match_id: str,
        file_name: str | None = None,
        source: str | None = None,
        detection_frame: int = 0,
        batch_size: int | None = None,
        correlation_id: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Uploads a file straight to its bucket (as `file_name`, default its own): the API checks
        and plans it, each part is PUT to its presigned URL (read from disk one part at a time), then
        the API completes it. Returns the plan (with `job_id` for a video) and the stored `uri`."""
        size = path.stat().st_size
        headers = {"X-Correlation-ID": correlation_id or str(uuid.uuid4())}
        body: dict[str, Any] = {
            "kind": kind,
            "file_name": file_name or path.name,
            "size_bytes": size,
            "match_id": match_id,
            "detection_frame": detection_frame,
        }
        if source is not None:
            body["source"] = source
        if batch_size is not None:
            body["batch_size"] = batch_size
        plan = self.request("POST", "/api/v1/uploads", json=body, headers=headers)
        return self.send(plan, path, on_progress, headers)

    def send(
        self,
        plan: Mapping[str, Any],
        path: Path,
        on_progress: ProgressCallback | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Sends a file as a planned upload says (an answer of POST /api/v1/uploads, or one of a
        session's uploads): each part PUT to its presigned URL, then the upload completed."""
        etags = []
        size = path.stat().st_size
        for part in plan["parts"]:
            offset = (part["number"] - 1) * plan["part_size"]
            length = max(0, min(plan["part_size"], size - offset))
            etags.append(
                {"number": part["number"], "etag": self._put_part(part["url"], path, offset, length)}
            )
            if on_progress is not None:
                on_progress(length)
        completed = self.request(
            "POST",
            plan["complete_url"],
            json={"kind": plan["kind"], "key": plan["key"], "upload_id": plan["upload_id"], "parts": etags},
            headers=dict(headers or {}),
        )
        return {**plan, **completed}

    def _put_part(self, url: str, path: Path, offset: int, length: int) -> str:
        """PUTs bytes [offset, offset + length) of the file, read as they are sent. (A part held as
        one `bytes` stayed in memory until the garbage collector freed the request, which httpx's
        response keeps in a reference cycle: some 15 parts, 270 MB at 16 MB a part.)"""
        for attempt in range(1, PART_ATTEMPTS + 1):
            try:
                response = self._storage.put(
                    url, content=_file_range(path, offset, length), headers={"Content-Length": str(length)}
                )
                if response.status_code < 400:
                    return str(response.headers["etag"])
                if response.status_code < 500:
                    raise ApiError(
                        response.status_code, f"object storage refused a part: {response.text[:200]}"
                    )
            except httpx.HTTPError as error:
                if attempt == PART_ATTEMPTS:
                    raise ApiError(0, f"object storage cannot be reached: {error}") from error
            time.sleep(0.5 * attempt)
        raise ApiError(503, "object storage kept failing a part of the upload")

    def download(self, uri: str, target: Path, on_progress: ProgressCallback | None = None) -> Path:
        """Streams a stored result to `target` (written to a temporary name, then renamed)."""
        try:
            redirect = self._http.get("/api/v1/files", params={"uri": uri}, follow_redirects=False)
        except httpx.HTTPError as error:
            raise ApiError(0, f"the PitchLens API at {self.base_url} cannot be reached: {error}") from error
        if redirect.status_code >= 400:
            raise _problem(redirect)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        with self._storage.stream("GET", redirect.headers["location"]) as response:
            if response.status_code >= 400:
                raise ApiError(response.status_code, f"could not download {uri}")
            with partial.open("wb") as file:
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                    file.write(chunk)
                    if on_progress is not None:
                        on_progress(len(chunk))
        partial.replace(target)
        return target.resolve()

    def read(self, uri: str) -> bytes:
        """A small stored object (a detection frame, detections.json) in memory."""
        redirect = self._http.get("/api/v1/files", params={"uri": uri}, follow_redirects=False)
        if redirect.status_code >= 400:
            raise _problem(redirect)
        response = self._storage.get(redirect.headers["location"])
        if response.status_code >= 400:
            raise ApiError(response.status_code, f"could not read {uri}")
        return response.content


def _file_range(path: Path, offset: int, length: int) -> Iterator[bytes]:
    """Bytes [offset, offset + length) of a file, UPLOAD_CHUNK at a time."""
    with path.open("rb") as file:
        file.seek(offset)
        left = length
        while left > 0:
            chunk = file.read(min(UPLOAD_CHUNK, left))
            if not chunk:
                raise OSError(
                    f"{path} ended {left} bytes before the end of a part: was it truncated meanwhile?"
                )
            left -= len(chunk)
            yield chunk


def _problem(response: httpx.Response) -> ApiError:
    try:
        problem = response.json()
    except ValueError:
        return ApiError(response.status_code, response.text[:300] or response.reason_phrase)
    if not isinstance(problem, dict):
        return ApiError(response.status_code, str(problem)[:300])
    detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    return ApiError(response.status_code, detail, str(problem.get("error") or ""), problem)


def _event_row(event: Mapping[str, Any]) -> dict[str, Any]:
    start, end = event.get("start") or {}, event.get("end") or {}
    row = {name: event.get(name) for name in EVENT_COLUMNS}
    row.update(start_x=start.get("x"), start_y=start.get("y"), end_x=end.get("x"), end_y=end.get("y"))
    row["attributes"] = json.dumps(event.get("attributes") or {}, ensure_ascii=False)
    return row


def events_table(rows: list[dict[str, Any]]) -> Any:
    """Event rows (`ApiClient.event_rows`) as a pyarrow Table with the EVENT_COLUMNS."""
    import pyarrow as pa

    schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in EVENT_COLUMNS.items()])
    return pa.Table.from_pylist(rows, schema=schema)
