"""The `switchyard` command."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from adapters.config.loader import GatewayConfig

START_GC_THRESHOLDS = (200_000, 20, 20)
"""The collector's thresholds while a server starts: a youngest generation big enough for the whole
start (~150,000 net allocations), so that it is hardly ever collected before the heap is frozen."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("switchyard")
    except PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """argparse's `version` action with the version looked up only when asked for: reading the installed
    package's metadata cost every start ~4 ms of CPU."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> NoReturn:
        parser._print_message(f"switchyard {_version()}\n", sys.stdout)
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="The Switchyard LLM gateway.")
    parser.add_argument("--version", action=_VersionAction, help="show program's version number and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway server")
    serve.add_argument("--config", help="LiteLLM-compatible config.yaml (default: the embedded demo config)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: SWITCHYARD_LOG_LEVEL, else info",
    )
    serve.add_argument(
        "--log-format",
        choices=["json", "console"],
        help="default: SWITCHYARD_LOG_FORMAT, else JSON lines unless stdout is a terminal",
    )
    db = commands.add_parser("db", help="the database schema (DATABASE_URL or the config's database_url)")
    db.add_argument(
        "action",
        choices=["upgrade", "current", "rotate-salt-key"],
        help="apply migrations / show the revision / encrypt the stored credentials under a new salt key",
    )
    db.add_argument("--config", help="the config whose database_url (or default SQLite file) to use")
    db.add_argument(
        "--new-key",
        help="rotate-salt-key: the new salt key (default: SWITCHYARD_NEW_SALT_KEY); the current one is"
        " SWITCHYARD_SALT_KEY, else LITELLM_SALT_KEY, else the master key",
    )
    prices = commands.add_parser("prices", help="the published model prices the gateway falls back on")
    actions = prices.add_subparsers(dest="action", required=True)
    update = actions.add_parser(
        "update", help="fetch newer prices into SWITCHYARD_PRICES_FILE (~/.cache/switchyard/prices.json)"
    )
    update.add_argument("--url", help="where to fetch it (default: genai-prices' own update URL)")
    show = actions.add_parser("show", help="the prices known for a model")
    show.add_argument("model", help="<provider>/<model>, as a config's litellm_params.model names it")
    return parser


def _db(action: str, config_path: str | None, new_key: str | None) -> int:
    import asyncio

    from adapters.persistence.migrate import current, upgrade
    from bootstrap import MEMORY_DATABASE, database_url
    from bootstrap.secrets import load_gateway_config
    from domain.errors import ConfigurationError

    try:
        config = load_gateway_config(config_path, os.environ)
    except ConfigurationError as exc:
        print(f"switchyard: invalid config: {exc}", file=sys.stderr)
        return 2
    url = database_url(config)
    if url == MEMORY_DATABASE:
        print("switchyard: the in-memory database keeps nothing on disk", file=sys.stderr)
        return 2
    if action == "rotate-salt-key":
        return _rotate_salt_key(config, url, new_key or os.environ.get("SWITCHYARD_NEW_SALT_KEY"))
    try:
        revision = asyncio.run(upgrade(url) if action == "upgrade" else current(url))
    except Exception as exc:  # an unreachable or unreadable database: say so, no traceback
        print(f"switchyard: database {action} failed: {exc}", file=sys.stderr)
        return 1
    print(revision or "(no schema yet: run `switchyard db upgrade`)")
    return 0


def _rotate_salt_key(config: GatewayConfig, url: str, new_key: str | None) -> int:
    import asyncio

    from adapters.persistence.key_rotation import rotate_credentials
    from bootstrap.resources import credential_cipher, salt_key
    from ports.credential_cipher import CredentialUnreadable

    new = credential_cipher(new_key or None)
    if new is None:
        print("switchyard: give the new salt key with --new-key or SWITCHYARD_NEW_SALT_KEY", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(rotate_credentials(url, credential_cipher(salt_key(config)), new))
    except CredentialUnreadable as exc:
        print(f"switchyard: nothing changed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an unreachable database or no schema yet: say so, no traceback
        print(f"switchyard: database rotate-salt-key failed: {exc}", file=sys.stderr)
        return 1
    print(f"encrypted {count} stored credentials under the new salt key: start the gateway with it now")
    return 0


def _prices_update(url: str | None) -> int:
    from adapters.prices import snapshot_path
    from adapters.prices.update import UpdateFailed, default_url, update_snapshot

    path = snapshot_path(os.environ)
    try:
        count = update_snapshot(path, url or default_url())
    except UpdateFailed as exc:
        print(f"switchyard: prices update failed: {exc}", file=sys.stderr)
        return 1
    print(f"saved the prices of {count} providers to {path}")
    return 0


def _prices_show(model: str) -> int:
    import asyncio
    import dataclasses

    from adapters.config.providers import split_model
    from adapters.prices import GenaiPricesCatalog
    from adapters.prices.genai_prices import PROVIDERS
    from ports.price_catalog import CatalogUnavailable

    try:
        ref = split_model(model)
    except ValueError as exc:
        print(f"switchyard: {model}: {exc}", file=sys.stderr)
        return 2
    catalog = GenaiPricesCatalog()  # reads SWITCHYARD_PRICES_FILE's prices when saved there
    try:
        found = asyncio.run(catalog.prices([ref])).get(ref)
    except CatalogUnavailable as exc:
        print(f"switchyard: prices unavailable: {exc}", file=sys.stderr)
        return 1
    if found is None:
        why = catalog.describe() if PROVIDERS.get(ref[0]) else f"{ref[0]} has no published prices"
        print(f"switchyard: no price known for {ref[0]}/{ref[1]} ({why})", file=sys.stderr)
        return 1
    print(f"{ref[0]}/{ref[1]} ({catalog.describe()}), USD:")
    for field in dataclasses.fields(found):
        name, value = field.name, getattr(found, field.name)
        if name == "tier_threshold" and value is not None:
            print(f"  {name:<24} {value} prompt tokens")
        elif name == "per_request" and value is not None:
            print(f"  {name:<24} {value.normalize():f} per call")
        elif value is not None:
            per_million = value.scaleb(6).normalize()
            print(f"  {name:<24} {value.normalize():f} per token ({per_million:f} per million)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        # A start allocates about a million objects that all live as long as the server: the collector's
        # passes over them free nothing and cost 80-130 ms of its ~0.8 s of CPU. It runs rarely until the
        # server's lifespan freezes that heap and sets the thresholds for serving (bootstrap.http).
        gc.set_threshold(*START_GC_THRESHOLDS)
        from switchyard.server import serve

        return serve(config=args.config, host=args.host, port=args.port, workers=args.workers,
                     log_level=args.log_level, log_format=args.log_format, environ=os.environ)  # fmt: skip
    if args.command == "db":
        return _db(args.action, args.config, args.new_key)
    if args.command == "prices":
        return _prices_update(args.url) if args.action == "update" else _prices_show(args.model)
    return 2


if __name__ == "__main__":
    sys.exit(main())
