"""The `switchyard` command."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("switchyard")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="The Switchyard LLM gateway.")
    parser.add_argument("--version", action="version", version=f"switchyard {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway server")
    serve.add_argument("--config", help="LiteLLM-compatible config.yaml (default: the embedded demo config)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from switchyard.server import serve

        return serve(config=args.config, host=args.host, port=args.port, workers=args.workers,
                     log_level=args.log_level, environ=os.environ)  # fmt: skip
    return 2


if __name__ == "__main__":
    sys.exit(main())
