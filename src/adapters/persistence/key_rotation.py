"""`switchyard db rotate-salt-key`: every stored credential sealed again under a new salt key."""

from __future__ import annotations

from sqlalchemy import select, update

from adapters.persistence import tables
from adapters.persistence.credentials import CredentialColumns, credential_names
from adapters.persistence.database import make_engine
from adapters.persistence.errors import translated
from ports.credential_cipher import CredentialCipher, CredentialUnreadable


async def rotate_credentials(
    url: str, old: CredentialCipher | None, new: CredentialCipher, *, schema: str | None = None
) -> int:
    """Seals every stored credential under `new` (opening it with `old`, or reading it as it is when
    kept in plain text) in one transaction, and returns how many it sealed. Nothing changes when one
    cannot be opened: `CredentialUnreadable` names its model and field, never its value."""
    opening, sealing = CredentialColumns(old), CredentialColumns(new)
    table = tables.deployments
    engine = make_engine(url, schema=schema, pool_size=1)
    count = 0
    try:
        with translated():
            async with engine.connect() as connection:
                await connection.begin()
                if engine.dialect.name == "sqlite":
                    await connection.exec_driver_sql("BEGIN IMMEDIATE")
                query = select(table.c.model_id, table.c.litellm_params).with_for_update()
                for row in (await connection.execute(query)).mappings().all():
                    opened = opening.opened_row(row)
                    if opened["unreadable"]:
                        names = ", ".join(f"litellm_params.{name}" for name in opened["unreadable"])
                        raise CredentialUnreadable(
                            f"model {row['model_id']}: {names} cannot be decrypted with the current salt key"
                        )
                    params = sealing.sealed_row(opened)["litellm_params"]
                    await connection.execute(
                        update(table).where(table.c.model_id == row["model_id"]).values(litellm_params=params)
                    )
                    count += len(credential_names(params))
                await connection.commit()
    finally:
        await engine.dispose()
    return count
