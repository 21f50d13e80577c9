"""Issue #25: what exactly-once costs a write, in the State, on both backends.

    python bench/idempotency_cost.py [--writes 2000] [--write]

Each write does what zbmcp.calls.exactly_once does for a write that goes ahead: claim its key (the lease, then
the claim), and once answered keep the answer under it and end the lease. A write without a key claims its
arguments for the repeat window; one with a key also points its arguments at the key (an alias), kept for the
window once answered. The answer kept is the size of a create_invoice's (about 1.5 KB). Local files and a
Redis of the benchmark's own (Debian's redis-server) take turns, 50 writes at a time. Target: at most 2 ms a
write on Redis (median), under 1 % of a Zoho write's few hundred milliseconds. Nothing is sent to Zoho.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

from common import load_average, machine, now_iso, summarize, write_results  # noqa: E402

from tests.redis_server import RedisServer  # noqa: E402
from zbmcp.core.idempotency import REPEAT_WINDOW_SECONDS  # noqa: E402
from zbmcp.state import State, new_id  # noqa: E402
from zbmcp.state.idempotency import add_alias, claim_key, complete, end_alias  # noqa: E402
from zbmcp.state.local import LocalState  # noqa: E402
from zbmcp.state.redis import RedisState  # noqa: E402

TARGET_MS = 2.0
LINE = {"item_id": "460000000026071", "name": "Consulting", "description": "Consulting, per hour",
        "quantity": 3, "rate": 150.0, "item_total": 450.0, "tax_id": "460000000026001", "tax_percentage": 20}
ANSWER: dict[str, Any] = {
    "content": [{"type": "text", "text": "Created invoice INV-000043 for Acme Corporation: 540.00 GBP, due "
                                         "2026-12-31 (draft)."}],
    "structuredContent": {"summary": "Created invoice INV-000043 for Acme Corporation: 540.00 GBP",
                          "invoice": {"invoice_id": "460000000026242", "invoice_number": "INV-000043",
                                      "customer_id": "460000000026049", "customer_name": "Acme Corporation",
                                      "date": "2026-12-01", "due_date": "2026-12-31", "status": "draft",
                                      "currency_code": "GBP", "sub_total": 450.0, "tax_total": 90.0,
                                      "total": 540.0, "balance": 540.0, "line_items": [LINE, LINE]}},
}


async def one_write(state: State, keyed: bool) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    arguments = new_id()
    claim = await claim_key(state, new_id() if keyed else arguments, "fingerprint", new_id(), wait=1)
    assert claim.kind == "first"
    if keyed:
        await add_alias(state, arguments, claim)
    await complete(state, claim, status="done", answer=ANSWER, outcome="allowed",
                   keep=25 * 3600.0 if keyed else REPEAT_WINDOW_SECONDS)
    if keyed:
        await end_alias(state, arguments, claim, keep=REPEAT_WINDOW_SECONDS)
    return time.perf_counter() - wall, time.process_time() - cpu


async def measure(redis_url: str, writes: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        states: dict[str, State] = {"redis": RedisState(redis_url, prefix="bench:"),
                                    "local": LocalState(Path(tmp))}
        for batch in range(writes // 50):
            for backend in (("redis", "local") if batch % 2 == 0 else ("local", "redis")):
                for keyed in (False, True):
                    name = f"{backend}_{'keyed' if keyed else 'keyless'}"
                    for _ in range(25):
                        took, used = await one_write(states[backend], keyed)
                        samples.setdefault(name, []).append(took)
                        cpu.setdefault(name, []).append(used)
        for state in states.values():
            await state.aclose()
    return {name: {**summarize(taken), "cpu_ms_median": round(statistics.median(cpu[name]) * 1000, 3)}
            for name, taken in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000, help="writes per backend")
    parser.add_argument("--write", action="store_true", help="store the results in bench/results.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp) / "redis")
        redis.start()
        try:
            per_write = anyio.run(measure, redis.url, args.writes)
        finally:
            redis.stop()
    worst_redis = max(per_write["redis_keyless"]["median_ms"], per_write["redis_keyed"]["median_ms"])
    results = {"when": now_iso(), "machine": machine(), "load_average": load_average(),
               "settings": {"writes_per_backend": args.writes, "answer_bytes": len(json.dumps(ANSWER))},
               "per_write": per_write, "target_ms": TARGET_MS, "met": worst_redis <= TARGET_MS}
    print(json.dumps(results, indent=2))
    if args.write:
        write_results("idempotency_cost", results)
    return 0 if results["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
