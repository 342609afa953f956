"""What a client does with an upload the API planned: PUT each part to its presigned URL, then
complete it through the API. For e2e tests that play the web page or another client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


def send(api: httpx.Client, plan: dict[str, Any], data: bytes | Path) -> dict[str, Any]:
    """Uploads `data` (bytes, or a file read a part at a time) as `plan` says; the completion."""
    parts = []
    with httpx.Client(timeout=120) as storage:  # presigned URLs: no API token may travel with them
        for part in plan["parts"]:
            start = (part["number"] - 1) * plan["part_size"]
            if isinstance(data, Path):
                with data.open("rb") as file:
                    file.seek(start)
                    chunk = file.read(plan["part_size"])
            else:
                chunk = data[start : start + plan["part_size"]]
            response = storage.put(part["url"], content=chunk)
            assert response.status_code == 200, response.text
            parts.append({"number": part["number"], "etag": response.headers["etag"]})
    completed = api.post(
        plan["complete_url"],
        json={"kind": plan["kind"], "key": plan["key"], "upload_id": plan["upload_id"], "parts": parts},
    )
    assert completed.status_code == 200, completed.text
    done: dict[str, Any] = completed.json()
    return done


def spec(name: str, data: bytes | Path) -> dict[str, Any]:
    return {"file_name": name, "size_bytes": data.stat().st_size if isinstance(data, Path) else len(data)}


def create_session(
    api: httpx.Client, videos: list[Path], game: str = "Gladbach v Wolfsburg", player: str = "No 7"
) -> dict[str, Any]:
    """A session of `videos`, uploaded as the web page does; the session's view."""
    response = api.post(
        "/cv/sessions", json={"game": game, "player": player, "videos": [spec(v.name, v) for v in videos]}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    for video, plan in zip(videos, created["uploads"], strict=True):
        send(api, plan, video)
    session: dict[str, Any] = created["session"]
    return session


def create_cut_session(
    api: httpx.Client, game_video: Path, intervals: str, game: str, player: str, padding: float = 0.0
) -> dict[str, Any]:
    """A session cut from a game video, uploaded and started as the web page does."""
    body = {
        "game": game,
        "player": player,
        "game_video": spec(game_video.name, game_video),
        "intervals": intervals,
        "padding": padding,
    }
    response = api.post("/cv/sessions", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    [plan] = created["uploads"]
    send(api, plan, game_video)
    started = api.post(f"/cv/sessions/{created['session']['session_id']}/cut")
    assert started.status_code == 202, started.text
    session: dict[str, Any] = created["session"]
    return session
