"""The console's templates and assets ship in the wheel: pyproject's package-data covers each one."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "src" / "adapters" / "http" / "ui"


def test_package_data_covers_every_template_and_asset() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = settings["package-data"]["adapters.http.ui"]
    shipped = [
        path.relative_to(UI).as_posix()
        for folder in ("templates", "static")
        for path in (UI / folder).rglob("*")
        if path.is_file()
    ]

    missing = [name for name in shipped if not any(PurePosixPath(name).match(glob) for glob in patterns)]
    assert shipped and missing == []
