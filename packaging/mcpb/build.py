"""Build the zbmcp MCP Bundle (.mcpb): python packaging/mcpb/build.py [--out DIR]

1. stage manifest.json, pyproject.toml and src/server.py from this folder;
2. build zbmcp's own wheel (pure Python, ~100 kB) into wheels/ (pip, which fetches hatchling from PyPI);
3. if uv is on PATH, lock the environment (uv.lock, so every user gets the same dependency versions);
4. if the pinned mcpb CLI is installed (npm ci --prefix tests/node), validate and pack DIR/zbmcp-VERSION.mcpb.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MCPB = REPO / "tests" / "node" / "node_modules" / ".bin" / "mcpb"
STAGED = ["manifest.json", "pyproject.toml", ".mcpbignore", "src/server.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "dist",
                        help="where the .mcpb goes (default: dist/)")
    args = parser.parse_args()
    version = json.loads((HERE / "manifest.json").read_text())["version"]
    stage = args.out / "mcpb-stage"
    shutil.rmtree(stage, ignore_errors=True)
    for name in STAGED:
        (stage / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(HERE / name, stage / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                    str(stage / "wheels"), str(REPO)], check=True)
    wheel = stage / "wheels" / f"zbmcp-{version}-py3-none-any.whl"
    if not wheel.is_file():
        print(f"build.py: expected {wheel.name}; is manifest.json's version the package's?", file=sys.stderr)
        return 1
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "lock", "--quiet", "--directory", str(stage)], check=True)
    else:
        print("build.py: uv not found, so no uv.lock: users get the newest versions zbmcp allows",
              file=sys.stderr)
    if not MCPB.exists():
        print(f"build.py: staged in {stage}; install the mcpb CLI (npm ci --prefix tests/node) to pack it",
              file=sys.stderr)
        return 0
    bundle = args.out / f"zbmcp-{version}.mcpb"
    subprocess.run([str(MCPB), "validate", str(stage / "manifest.json")], check=True)
    subprocess.run([str(MCPB), "pack", str(stage), str(bundle)], check=True)
    print(bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
