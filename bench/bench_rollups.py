"""What keeping the report rollups costs, on a bench database (bench/make_bulk_contacts.py): the marking trigger on
report rows (a batch of outcome-style updates with the trigger against the same batch without it, same process),
the rebuild of one stale day before a report reads, one month's histograms, and a full rebuild; sizes. JSON out.

    .venv/bin/python bench/bench_rollups.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/callscope_bench1m
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from callscope.reports import rollups  # noqa: E402
from callscope.storage.db import get_sessionmaker  # noqa: E402
from callscope.storage.search import report_contacts as F  # noqa: E402


def timed_updates(session, ids: list[str], *, trigger: bool) -> float:
    """Seconds to give `ids` an outcome one statement per row (as outcomes arrive), rolled back."""
    if not trigger:
        session.execute(sa.text("ALTER TABLE report_contacts DISABLE TRIGGER report_contacts_mark"))
    started = time.perf_counter()
    for i in ids:
        session.execute(sa.update(F).where(F.c.interaction_id == i).values(actual_s=F.c.actual_s + 1))
    seconds = time.perf_counter() - started
    session.rollback()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    with get_sessionmaker(args.database_url)() as session:
        ids = list(session.scalars(sa.select(F.c.interaction_id).where(F.c.tenant == args.tenant).limit(args.rows)))
        timed_updates(session, ids, trigger=True)  # warm-up: the rows' pages into memory
        ratios = []
        for _ in range(3):  # alternate, so that drift on a noisy machine hits both
            without = timed_updates(session, ids, trigger=False)
            with_marks = timed_updates(session, ids, trigger=True)
            ratios.append(with_marks / without)
        day = session.scalar(sa.select(sa.func.max(F.c.day)).where(F.c.tenant == args.tenant))
        session.execute(sa.insert(rollups.marks).values(tenant=args.tenant, day=day, scope="d"))
        session.commit()
        started = time.perf_counter()
        rollups.refresh_days(session, args.tenant)
        one_day = time.perf_counter() - started
        started = time.perf_counter()
        rollups.refresh_months(session, args.tenant)
        one_month = time.perf_counter() - started
        started = time.perf_counter()
        rebuilt = rollups.rebuild(session, args.tenant)
        rebuild = time.perf_counter() - started
        contacts = session.scalar(sa.select(sa.func.count()).select_from(F).where(F.c.tenant == args.tenant))
        sizes = {
            table: dict(session.execute(sa.text(f"SELECT level, count(*) FROM {table} GROUP BY level")).all())
            for table in ("report_rollup", "report_rollup_hist")
        }
    print(json.dumps({
        "contacts": contacts,
        "trigger_overhead_ratio": [round(r, 3) for r in ratios],
        "refresh_one_day_s": round(one_day, 3),
        "refresh_one_month_histograms_s": round(one_month, 3),
        "rebuild_s": round(rebuild, 1),
        "rebuilt": rebuilt,
        "rows": sizes,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
