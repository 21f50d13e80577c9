"""The baseline for bench/startup_latency.py: the smallest honest MCP server for the same job.

A low-level `mcp.server.Server` (the class zbmcp builds on) over stdio with one tool, `list_invoices`, that
does the upstream work zbmcp does per call: one httpx2 GET /invoices?organization_id=... (the argument, else
--organization) to the Zoho Books API (the loopback sandbox) with a valid `Zoho-oauthtoken`, answered with the
payload as text and as structured content. Nothing else: no config file,
no manifests, no policy, no validation, no pacing, no audit, no token refresh (the harness hands it a fresh
access token), so the ratio zbmcp / this server is zbmcp's own overhead.

    MINIMAL_ACCESS_TOKEN=... python bench/minimal_server.py --api-base URL --organization ID
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import anyio
import httpx2
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

TOOL = types.Tool(
    name="list_invoices",
    description="List invoices of the organization.",
    input_schema={"type": "object", "properties": {"organization_id": {"type": "string"},
                                                   "page": {"type": "integer"}}},
    annotations=types.ToolAnnotations(title="List invoices", read_only_hint=True),
)


def build(api_base: str, organization_id: str, token: str, http: httpx2.AsyncClient) -> Server[Any]:
    async def on_list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                            ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[TOOL])

    async def on_call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
                           ) -> types.CallToolResult:
        if params.name != TOOL.name:
            return types.CallToolResult(content=[types.TextContent(text=f"Unknown tool: {params.name}")],
                                        is_error=True)
        arguments = params.arguments or {}
        asked = arguments.get("organization_id")
        query: dict[str, Any] = {"organization_id": asked if isinstance(asked, str) else organization_id}
        if isinstance(arguments.get("page"), int):
            query["page"] = arguments["page"]
        response = await http.get(f"{api_base}/invoices", params=query,
                                  headers={"Authorization": f"Zoho-oauthtoken {token}"})
        payload = response.json()
        return types.CallToolResult(content=[types.TextContent(text=json.dumps(payload, ensure_ascii=False))],
                                    structured_content=payload, is_error=response.status_code >= 400)

    return Server("minimal", version="0.0.1", on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def main(api_base: str, organization_id: str, token: str) -> None:
    async with httpx2.AsyncClient() as http:
        server = build(api_base, organization_id, token, http)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-base", required=True, help="e.g. http://127.0.0.1:54321/books/v3")
    parser.add_argument("--organization", required=True)
    args = parser.parse_args()
    access_token = os.environ.get("MINIMAL_ACCESS_TOKEN")
    if not access_token:
        sys.exit("set MINIMAL_ACCESS_TOKEN")
    anyio.run(main, args.api_base.rstrip("/"), args.organization, access_token)
