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
    db = commands.add_parser("db", help="the database schema (DATABASE_URL or the config's database_url)")
    db.add_argument("action", choices=["upgrade", "current"], help="apply migrations / show the revision")
    db.add_argument("--config", help="the config whose database_url (or default SQLite file) to use")
    return parser


def _db(action: str, config_path: str | None) -> int:
    import asyncio

    from adapters.config.loader import load_config
    from adapters.persistence.migrate import current, upgrade
    from bootstrap import MEMORY_DATABASE, database_url
    from domain.errors import ConfigurationError

    try:
        url = database_url(load_config(config_path, os.environ))
    except ConfigurationError as exc:
        print(f"switchyard: invalid config: {exc}", file=sys.stderr)
        return 2
    if url == MEMORY_DATABASE:
        print("switchyard: the in-memory database has no schema to migrate", file=sys.stderr)
        return 2
    try:
        revision = asyncio.run(upgrade(url) if action == "upgrade" else current(url))
    except Exception as exc:  # an unreachable or unreadable database: say so, no traceback
        print(f"switchyard: database {action} failed: {exc}", file=sys.stderr)
        return 1
    print(revision or "(no schema yet: run `switchyard db upgrade`)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from switchyard.server import serve

        return serve(config=args.config, host=args.host, port=args.port, workers=args.workers,
                     log_level=args.log_level, environ=os.environ)  # fmt: skip
    if args.command == "db":
        return _db(args.action, args.config)
    return 2


if __name__ == "__main__":
    sys.exit(main())
