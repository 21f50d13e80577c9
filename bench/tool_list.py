"""Issues #23 and #27: how long the largest agent's tools/list takes to build, and how many bytes it is.

    python bench/tool_list.py [--runs 200] [--copies 1] [--write]

The largest agent is granted every tool of the catalog (`*:*`) in two organizations, with the default
tool_list_bytes (docs/context.md). "Build" is what the server does the first time the agent lists its tools:
turn every tool it may use into its MCP definition, weigh them, and choose what the list holds
(zbmcp.calls.tool_list.plan); later lists reuse it ("served": the cached listing into a result). `--copies K`
pretends the catalog is K times as large (each tool again under another name), to see the cost of a larger
catalog before it exists. Target: the build in at most 5 ms (issue #27). Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import load_average, machine, now_iso, summarize, write_results  # noqa: E402

from zbmcp.calls.catalog import load_manifests  # noqa: E402
from zbmcp.calls.meta_tools import meta_tools  # noqa: E402
from zbmcp.calls.tool_list import plan  # noqa: E402
from zbmcp.core.config import Agent  # noqa: E402
from zbmcp.core.policy import resolve  # noqa: E402
from mcp import types  # noqa: E402

TARGET_MS = 5.0
ORGANIZATIONS = ["10234695", "10234696"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="store the results in bench/results.json")
    args = parser.parse_args()
    catalog = load_manifests()
    specs = {f"{name}_{copy}" if copy else name: dataclasses.replace(spec, name=f"{name}_{copy}")
             if copy else spec for copy in range(args.copies) for name, spec in catalog.items()}
    agent = Agent(connection="main", organizations=ORGANIZATIONS, tools=["*:*"])
    policy = resolve("largest", agent, specs)
    budget = agent.tool_list_bytes
    built, served = [], []
    listing = None
    for _ in range(args.runs):
        started = time.perf_counter()
        listing = plan(policy, budget, meta_tools(policy))
        built.append(time.perf_counter() - started)
        started = time.perf_counter()
        types.ListToolsResult(tools=list(listing.tools), cache_scope="private")
        served.append(time.perf_counter() - started)
    assert listing is not None
    result = types.ListToolsResult(tools=list(listing.tools), cache_scope="private")
    size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    build = summarize(built)
    results = {
        "when": now_iso(), "machine": machine(), "load_average": load_average(),
        "settings": {"runs": args.runs, "copies": args.copies, "catalog_tools": len(catalog),
                     "tools_granted": len(policy.visible), "organizations": len(ORGANIZATIONS),
                     "tool_list_bytes": budget},
        "listing": {"whole": listing.whole, "tools_listed": len(listing.tools), "bytes": size},
        "build": build, "served": summarize(served),
        "target_ms": TARGET_MS, "met": build["median_ms"] <= TARGET_MS and size <= budget,
    }
    print(json.dumps(results, indent=2))
    if args.write:
        write_results("tool_list", results)


if __name__ == "__main__":
    main()
