"""python -m zbmcp.sandbox [--host 127.0.0.1] [--port 8765]: serve a fresh sandbox until Ctrl-C."""

from __future__ import annotations

import argparse

from zbmcp.sandbox.server import run_sandbox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m zbmcp.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--invoices", type=int, default=0, metavar="N",
                        help="seed N more invoices, with their customers, payments and bills, in the default "
                             "organization")
    args = parser.parse_args(argv)
    run_sandbox(host=args.host, port=args.port, bulk_invoices=args.invoices)


if __name__ == "__main__":
    main()
