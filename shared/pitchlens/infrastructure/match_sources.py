"""Where raw provider files come from: an uploaded `s3://` folder, a local open-data checkout,
or the provider's online API. `RoutingMatchSource` picks one per request."""

from __future__ import annotations

from pitchlens.domain.errors import InvalidMatchData, MatchNotFound
from pitchlens.domain.ports import MatchSource, ObjectStorage, RawMatchData
from pitchlens.infrastructure.storage.s3 import split_uri

MAX_RAW_FILE_BYTES = 512 * 1024 * 1024


class S3FolderMatchSource(MatchSource):
    """Every object under an `s3://bucket/<source>/<match_id>/` folder, by relative name."""

    def __init__(self, storage: ObjectStorage) -> None:
        self._storage = storage

    def fetch(self, source: str, match_id: str, location: str | None) -> RawMatchData:
        if location is None:
            raise InvalidMatchData("an s3:// folder is required")
        try:
            bucket, prefix = split_uri(location if location.endswith("/") else location + "/")
        except ValueError as error:
            raise InvalidMatchData(str(error)) from error
        objects = self._storage.list(bucket, prefix)
        if not objects:
            raise MatchNotFound(f"no files under {location}")
        too_big = [o.key for o in objects if o.size > MAX_RAW_FILE_BYTES]
        if too_big:
            raise InvalidMatchData(f"{too_big[0]} is larger than {MAX_RAW_FILE_BYTES // 2**20} MiB")
        files = {o.key[len(prefix) :]: self._storage.get(bucket, o.key) for o in objects}
        return RawMatchData(source=source, match_id=match_id, files=files)


class RoutingMatchSource(MatchSource):
    """Uploaded folders when a location is given; otherwise the provider's own source."""

    def __init__(self, uploaded: MatchSource, providers: dict[str, MatchSource]) -> None:
        self._uploaded = uploaded
        self._providers = providers

    def fetch(self, source: str, match_id: str, location: str | None) -> RawMatchData:
        if location is not None:
            return self._uploaded.fetch(source, match_id, location)
        provider = self._providers.get(source)
        if provider is None:
            raise MatchNotFound(
                f"no {source} source is configured for match {match_id}: upload its files to "
                f"raw-data/{source}/{match_id}/ or pass a location"
                + (
                    " (StatsBomb: set PITCHLENS_STATSBOMB_OPEN_DATA_DIR, or PITCHLENS_STATSBOMB_ONLINE=true)"
                    if source == "statsbomb"
                    else ""
                )
            )
        return provider.fetch(source, match_id, location)
