"""Time the reports' data endpoints over real HTTP on PostgreSQL (the contacts of bench/make_contacts.py).

Starts the API (uvicorn, in this process) on the given database, logs in with a supervisor key, then calls each
endpoint with several filter combinations: one warm-up call, then `--repeat` timed calls each. Prints JSON
(p50/p95/max in ms per endpoint and filter) to stdout, progress to stderr.

    .venv/bin/python bench/bench_reports.py --database-url postgresql://postgres@127.0.0.1:5432/callscope_bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/callscope_bench"
ENDPOINTS = [
    "/v1/reports/volume",
    "/v1/reports/handle-time",
    "/v1/reports/predicted-vs-actual",
    "/v1/reports/sentiment",
    "/v1/reports/queues-agents",
    "/v1/reports/conversation",
    "/v1/reports/opportunities",
    "/v1/reports/qa",
    "/v1/reports/repeats",
    "/v1/reports/contacts",
    "/v1/reports/search",
    "/reports",
]


def _filters() -> dict[str, dict[str, str]]:
    today = datetime.now(UTC).date()
    return {
        "all": {},
        "last 30 days": {"date_from": (today - timedelta(days=30)).isoformat(), "date_to": today.isoformat()},
        "channel=voice": {"channel": "voice"},
        "intent": {"intent": "declined_card_payment"},
        "queue+agent": {"queue": "payments", "agent": "agent-007"},
        "category": {"category": "complaint"},
        "q=declined": {"q": "declined"},
        "q+filters": {"q": "refund amazon", "channel": "chat", "date_from": (today - timedelta(days=60)).isoformat()},
    }


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", nargs="*", help="time only the endpoints ending with these names")
    args = parser.parse_args()
    os.environ["CALLSCOPE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("CALLSCOPE_DATA_DIR", tempfile.mkdtemp(prefix="callscope-bench-"))

    import httpx
    import uvicorn
    from starlette.routing import NoMatchFound

    from api import reports as reports_api
    from api.app import app
    from callscope.access.keys import create_api_key
    from callscope.settings import get_settings
    from callscope.storage.db import get_sessionmaker
    from callscope.storage.search import report_contacts

    try:
        app.url_path_for("dashboard")  # api/app.py includes the reports router
    except NoMatchFound:
        app.include_router(reports_api.router)
    url = get_settings().resolved_database_url
    with get_sessionmaker(url)() as session:
        key = create_api_key(session, tenant=args.tenant, role="supervisor")
        from sqlalchemy import func, select

        contacts = session.scalar(select(func.count()).where(report_contacts.c.tenant == args.tenant))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    results: list[dict[str, Any]] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        login = client.post("/reports/login", data={"key": key}, follow_redirects=False)
        assert login.status_code == 303, login.text
        for path in [p for p in ENDPOINTS if not args.only or any(p.endswith(name) for name in args.only)]:
            for label, params in _filters().items():
                if path.endswith("/search") and "q" not in params:
                    continue  # search needs q
                client.get(path, params=params).raise_for_status()  # warm-up
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    response = client.get(path, params=params)
                    times.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                row = {
                    "endpoint": path,
                    "filters": label,
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(_percentile(times, 0.95), 1),
                    "max_ms": round(max(times), 1),
                }
                results.append(row)
                print(f"{path:36} {label:14} p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms", file=sys.stderr)
        export = None
        if not args.only:  # the whole export of every contact
            started = time.perf_counter()
            exported = client.get("/v1/reports/export.csv")
            export = {"rows": exported.text.count("\n") - 1, "seconds": round(time.perf_counter() - started, 2)}
    server.should_exit = True
    print(
        json.dumps(
            {
                "contacts": contacts,
                "database": url.rsplit("@", 1)[-1],
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
                "repeat": args.repeat,
                "worst_p95_ms": max(r["p95_ms"] for r in results),
                "export_csv": export,
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
