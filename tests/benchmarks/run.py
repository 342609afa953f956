"""`make bench`: PitchLens against its baselines, measured side by side in one run.

1. parse + normalise + persist of one StatsBomb match, in-process, vs kloppy load + pandas
   `to_sql` of the same events into the same PostgreSQL (target: >= 3x faster);
2. the whole event flow on the embedded stack (upload -> ingest -> persist -> SUCCEEDED);
3. the persist step alone (COPY), events/s, vs `to_sql` of the same rows (target >= 50,000/s);
4. upload-to-handler latency of the embedded runtime over 50 uploads (target p95 <= 1 s).

`--only` picks sections: ingestion (the above), vision, trajectories, rendering (see each module
under tests/benchmarks/; PITCHLENS_BENCH_4K_FINAL=0 skips rendering's longest part, the 4K final),
match (a looped match video uploaded and tracked in segments by 1 and 2 workers; quick unless
PITCHLENS_BENCH_MATCH=full).

Each figure is the median of several repetitions; the machine is small and shared, so read the
ratios, not the absolute times. Results go to stdout and `bench-results/benchmarks.md` (only the
sections run).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MATCH = "9880"
REPEATS = 5
SECTIONS = ("ingestion", "vision", "trajectories", "rendering", "match")

PROBE_HANDLER = textwrap.dedent(
    '''
    """Benchmark probe: records when each notification reaches the ingest function."""
    import json, os, time
    from urllib.parse import unquote_plus

    def handler(event, context):
        now = time.time()
        with open(os.environ["PITCHLENS_BENCH_ARRIVALS"], "a") as sink:
            for record in event["Records"]:
                body = json.loads(record["body"])
                for r in body.get("Records", []):
                    sink.write(f"{unquote_plus(r['s3']['object']['key'])} {now}\\n")
        return {"batchItemFailures": []}
    '''
)


def median_time(work: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "benchmarks.md")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated: {', '.join(SECTIONS)}",
    )
    args = parser.parse_args()
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))} (expected {', '.join(SECTIONS)})")
    statsbomb_dir = args.shared / "data" / "statsbomb"
    if not statsbomb_dir.is_dir():
        print(f"shared data not found at {statsbomb_dir}", file=sys.stderr)
        return 2
    chosen = set(args.only.split(","))
    sections = []
    if "ingestion" in chosen:
        with tempfile.TemporaryDirectory(prefix="pitchlens-bench-") as tmp:
            sections.append(render("Ingestion", run_all(Path(tmp), statsbomb_dir)))
    if "vision" in chosen:
        from tests.benchmarks import vision

        sections.append(render("Vision", vision.run(args.shared)))
    if "trajectories" in chosen:
        from tests.benchmarks import trajectories

        sections.append(render("Trajectory persistence", trajectories.main_rows()))
    if "rendering" in chosen:
        from tests.benchmarks import rendering

        sections.append(render("Rendering", rendering.run(args.shared)))
    if "match" in chosen:
        from tests.benchmarks import match

        sections.append(render("Whole match", match.run(args.shared)))
    table = "\n\n".join(sections)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")
    return 0


def run_all(tmp: Path, statsbomb_dir: Path) -> list[tuple[str, str, str, str, str]]:
    from kloppy import statsbomb as kloppy_statsbomb
    from sqlalchemy import text

    from pitchlens.infrastructure.postgres.engine import create_engine
    from pitchlens.infrastructure.postgres.unit_of_work import PostgresUnitOfWork
    from pitchlens.infrastructure.providers.statsbomb import StatsBombOpenDataSource, StatsBombParser

    probe_dir = tmp / "functions"
    (probe_dir / "ingest").mkdir(parents=True)
    (probe_dir / "ingest" / "handler.py").write_text(PROBE_HANDLER)
    arrivals = tmp / "arrivals.txt"

    from tests.e2e.conftest import start_stack

    events_path = statsbomb_dir / "data" / "events" / f"{MATCH}.json"
    lineups_path = statsbomb_dir / "data" / "lineups" / f"{MATCH}.json"
    source = StatsBombOpenDataSource(statsbomb_dir)
    statsbomb_parser = StatsBombParser()

    stack_iter = start_stack(tmp / "stack", statsbomb_dir)
    running = next(stack_iter)
    try:
        engine = create_engine(running.info.database_url)
        event_count = len(statsbomb_parser.parse(source.fetch("statsbomb", MATCH, None)).events)

        fresh_ids = (f"bench-{i}" for i in itertools.count())

        def save(match: Any) -> None:
            # Each run stores a new match (a first ingestion), as the baseline's fresh table does.
            with PostgresUnitOfWork(engine) as uow:
                uow.matches.save(
                    dataclasses.replace(match, match_id=next(fresh_ids)), ingested_at=datetime.now(UTC)
                )
                uow.commit()

        def ours() -> None:
            save(statsbomb_parser.parse(source.fetch("statsbomb", MATCH, None)))

        def baseline_frame() -> Any:
            dataset = kloppy_statsbomb.load(event_data=str(events_path), lineup_data=str(lineups_path))
            return dataset.to_df()

        def baseline() -> None:
            frame = baseline_frame()
            frame.insert(0, "match_id", MATCH)
            frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}).to_sql(
                "baseline_events", engine, if_exists="replace", index=False
            )

        ours_s = median_time(ours)
        baseline_s = median_time(baseline)

        match = statsbomb_parser.parse(source.fetch("statsbomb", MATCH, None))

        def persist_only() -> None:
            save(match)

        frame = baseline_frame()
        frame.insert(0, "match_id", MATCH)
        frame = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})

        def to_sql_only() -> None:
            frame.to_sql("baseline_events", engine, if_exists="replace", index=False)

        persist_s = median_time(persist_only)
        to_sql_s = median_time(to_sql_only)

        files = {"lineups.json": lineups_path.read_bytes(), "events.json": events_path.read_bytes()}

        def flow() -> None:
            correlation_id = running.upload_batch(f"statsbomb/{MATCH}", files)
            job = running.job(correlation_id=correlation_id, timeout=120)
            assert job["status"] == "SUCCEEDED", job

        flow_s = median_time(flow, 3)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS baseline_events"))
            connection.execute(text("DELETE FROM events WHERE match_id LIKE 'bench-%'"))
            connection.execute(text("DELETE FROM matches WHERE match_id LIKE 'bench-%'"))
    finally:
        next(stack_iter, None)

    os.environ["PITCHLENS_BENCH_ARRIVALS"] = str(arrivals)
    os.environ["PITCHLENS_FUNCTIONS_DIR"] = str(probe_dir)
    from pitchlens.runtime.worker.functions import load_handler

    load_handler.cache_clear()
    latencies = []
    stack_iter = start_stack(tmp / "latency", None)
    running = next(stack_iter)
    try:
        for i in range(50):
            key = f"latency/{uuid.uuid4().hex}/events.json"
            sent = time.time()
            running.upload(key, b"[]")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                seen = _arrival(arrivals, key)
                if seen is not None:
                    latencies.append(seen - sent)
                    break
                time.sleep(0.002)
            else:
                content = arrivals.read_text() if arrivals.is_file() else "(no file)"
                raise AssertionError(f"upload {i} ({key}) never reached the handler: {content[:300]}")
    finally:
        next(stack_iter, None)
        del os.environ["PITCHLENS_FUNCTIONS_DIR"]
        load_handler.cache_clear()

    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18]
    label = f"StatsBomb match {MATCH} ({event_count} events)"
    return [
        (
            f"{label}: parse + normalise + persist",
            f"{ours_s * 1000:.0f} ms",
            f"{baseline_s * 1000:.0f} ms (kloppy load + to_df + to_sql)",
            f"{baseline_s / ours_s:.1f}x faster",
            ">= 3x",
        ),
        (
            f"{label}: whole event flow (upload -> SUCCEEDED)",
            f"{flow_s * 1000:.0f} ms",
            f"{baseline_s * 1000:.0f} ms (same baseline, in-process)",
            f"{baseline_s / flow_s:.1f}x faster",
            "-",
        ),
        (
            "persist step alone (one transaction, COPY)",
            f"{event_count / persist_s:,.0f} events/s",
            f"{event_count / to_sql_s:,.0f} events/s (to_sql)",
            f"{to_sql_s / persist_s:.1f}x faster",
            ">= 50,000 events/s",
        ),
        (
            "upload-to-handler latency, 50 uploads",
            f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms",
            "-",
            "-",
            "p95 <= 1 s",
        ),
    ]


def _arrival(path: Path, key: str) -> float | None:
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        name, _, stamp = line.partition(" ")
        if name == key:
            return float(stamp)
    return None


def render(title: str, rows: list[tuple[str, str, str, str, str]]) -> str:
    header = ("measurement", "PitchLens", "baseline", "ratio", "target")
    lines = [
        f"{title} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
