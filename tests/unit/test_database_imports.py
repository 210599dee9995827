"""A gateway's database opens on SQLAlchemy's Core and async engine without loading the ORM, which the
asyncio package's sessions would import (megabytes a gateway never uses); a name from the rest of that
package loads it as an import would have."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _run(tmp_path: Path, body: str) -> str:
    """`body` run in a fresh interpreter (this one has imported the ORM long ago), after opening a gateway's
    SQLite store in `tmp_path`; what it printed."""
    script = tmp_path / "open.py"
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, sys
            from adapters.config.loader import load_config
            from bootstrap.resources import open_store

            async def main():
                settings = {{"database_url": {url!r}}}
                config = load_config({{"model_list": [], "general_settings": settings}}, {{}})
                opened = open_store(config)
                deferred = await anext(opened)
                await deferred.open()
                async with deferred.unit_of_work() as uow:
                    print("stamps", dict(await uow.stamps()) is not None)
                await opened.aclose()

            asyncio.run(main())
            """
        )
        + textwrap.dedent(body)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_store_opens_and_works_without_the_orm_loaded(tmp_path: Path) -> None:
    printed = _run(tmp_path, 'print("orm", "sqlalchemy.orm" in sys.modules)\n')
    assert printed.split("\n")[:2] == ["stamps True", "orm False"]


def test_the_rest_of_the_asyncio_package_loads_on_first_use_as_an_import_would(tmp_path: Path) -> None:
    printed = _run(
        tmp_path,
        """
        import sqlalchemy.ext.asyncio as package
        from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
        from sqlalchemy.ext.asyncio.engine import AsyncEngine as engine_class
        from sqlalchemy.ext.asyncio.session import AsyncSession as session_class
        from sqlalchemy.orm import Session
        print("same", AsyncEngine is engine_class, AsyncSession is session_class)
        print("orm", "sqlalchemy.orm" in sys.modules, callable(async_sessionmaker))
        print("missing", hasattr(package, "no_such_name"))
        """,
    )
    assert printed.split("\n")[1:4] == ["same True True", "orm True True", "missing False"]
