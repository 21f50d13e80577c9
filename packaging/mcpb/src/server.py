"""The bundle's entry point: zbmcp over stdio, as the agent the user chose, with the config file they chose.

Claude Desktop runs this with `uv`, in an environment built from the bundle's pyproject.toml (zbmcp and its
dependencies), and passes the two user settings as ZBMCP_CONFIG and ZBMCP_AGENT.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    agent = os.environ.get("ZBMCP_AGENT", "").strip()
    config = os.environ.get("ZBMCP_CONFIG", "").strip()
    if not agent or agent.startswith("${") or not config or config.startswith("${"):
        print("zbmcp: choose the config file and the agent in the extension's settings (Claude Desktop: "
              "Settings > Extensions > Zoho Books (zbmcp) > Configure).", file=sys.stderr)
        return 2
    from zbmcp.cli import main as zbmcp

    return zbmcp(["serve", "--config", config, "--agent", agent])


if __name__ == "__main__":
    sys.exit(main())
