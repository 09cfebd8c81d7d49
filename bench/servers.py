"""uvicorn against granian: the same app, the same PostgreSQL database, 2 processes each.

Loads the demo network into a fresh database, then for each server and endpoint runs
the same keep-alive load on loopback and prints requests per second, p50 and p99, and
the ratio granian / uvicorn. Rounds alternate the servers (A B B A) so that drift of the
shared machine hits both alike. Endpoints:

- `events`: `GET /api/v1/events` (JSON, reads PostgreSQL: events with their slots)
- `feed`:   `GET /feeds/public.ics?grade=N` (the calendar feed; stored documents)
- `live`:   `GET /health/live` (no database: the server's own overhead)

    .venv/bin/python bench/servers.py [--seconds 8] [--connections 32] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._http import (
    PYTHON,
    ROOT,
    Connection,
    Tally,
    drive,
    free_port,
    start_process,
    stop_process,
    wait_until_up,
)
from bench._setup import drop_postgres, fresh_postgres, unique_name
from outreach import db
from outreach.demo import load_demo

DB_NAME = unique_name("outreach_bench_servers")
PROCESSES = 2
ENDPOINTS = {
    "events": lambda i: "/api/v1/events",
    "feed": lambda i: f"/feeds/public.ics?grade={5 + i % 6}",
    "live": lambda i: "/health/live",
}


def server_argv(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [PYTHON, "-m", "outreach.cli", "serve", "--workers", str(PROCESSES)]
    granian = str(Path(PYTHON).parent / "granian")
    return [granian, "--interface", "asgi", "--workers", str(PROCESSES), "--loop", "uvloop"]


def argv_with_port(server: str, port: int) -> list[str]:
    argv = server_argv(server, port)
    if server == "uvicorn":
        return [*argv, "--host", "127.0.0.1", "--port", str(port)]
    return [*argv, "--host", "127.0.0.1", "--port", str(port), "outreach.asgi:app"]


async def measure(port: int, path_of, seconds: float, connections: int) -> tuple[Tally, float]:
    tally = Tally()

    async def one(conn: Connection, i: int) -> None:
        started = asyncio.get_running_loop().time()
        answer = await conn.request("GET", path_of(i))
        tally.add(asyncio.get_running_loop().time() - started, answer.status == 200, answer.status)

    elapsed = await drive("127.0.0.1", port, connections, seconds, one)
    return tally, elapsed


async def main(seconds: float, connections: int, rounds: int) -> None:
    settings = await fresh_postgres(DB_NAME)
    await db.start_pool(4)
    try:
        await load_demo()
    finally:
        await db.close_pool()
    logs = Path(tempfile.mkdtemp(prefix="outreach-bench-servers-"))
    env = {
        "DATABASE_URL": settings.database_url or "",
        "SECRET_KEY": settings.secret_key,
        "OUTREACH_DATA_DIR": str(logs),
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "OUTREACH_BROKER_NAMESPACE": unique_name("outreach-bench-servers"),
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(logs / "metrics"),
    }
    results: dict[tuple[str, str], list[tuple[Tally, float]]] = {}
    order = ["uvicorn", "granian", "granian", "uvicorn"] * ((rounds + 1) // 2)
    try:
        for run, server in enumerate(order[: rounds * 2]):
            port = free_port()
            process = start_process(argv_with_port(server, port), env, logs / f"{server}-{run}.log")
            try:
                wait_until_up(port, process)
                for name, path_of in ENDPOINTS.items():
                    await measure(port, path_of, 1.0, connections)  # warm caches and pools
                    results.setdefault((server, name), []).append(
                        await measure(port, path_of, seconds, connections)
                    )
            finally:
                stop_process(process)
    finally:
        await drop_postgres(DB_NAME)

    print(
        f"{PROCESSES} server processes each, {connections} keep-alive connections, "
        f"{seconds:.0f} s per endpoint and round, {rounds * 2} runs (PostgreSQL, demo network)"
    )
    for name in ENDPOINTS:
        rates = {}
        for server in ("uvicorn", "granian"):
            merged, elapsed = Tally(), 0.0
            for tally, spent in results[(server, name)]:
                merged.latencies += tally.latencies
                merged.errors += tally.errors
                elapsed += spent
            rates[server] = len(merged.latencies) / elapsed
            print(
                f"{name:<7} {server:<8} {rates[server]:8.0f} req/s   "
                f"p50 {merged.quantile(0.5) * 1e3:6.1f} ms   "
                f"p99 {merged.quantile(0.99) * 1e3:6.1f} ms   errors {merged.errors}"
            )
        print(f"{name:<7} ratio granian / uvicorn: {rates['granian'] / rates['uvicorn']:.2f}")
    print(f"server logs: {logs}  (project root {ROOT})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="each round runs A B, then B A")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.connections, args.rounds))
