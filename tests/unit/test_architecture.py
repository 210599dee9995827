"""The layer rules of the hexagon, checked on the source itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
LAYERS = ["domain", "ports", "application", "adapters", "bootstrap", "switchyard"]
STDLIB_ONLY = {"domain", "ports", "application"}
ALLOWED = {
    "domain": {"domain"},
    "ports": {"domain", "ports"},
    "application": {"domain", "ports", "application"},
    "adapters": {"domain", "ports", "application", "adapters"},
    "bootstrap": {"domain", "ports", "application", "adapters", "bootstrap"},
    "switchyard": set(LAYERS),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _violations() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        layer = _layer_of(path)
        for name in _imports(path):
            if name in LAYERS and name not in ALLOWED[layer]:
                found.append(f"{path.relative_to(SRC)} imports {name}")
            if layer in STDLIB_ONLY and name not in LAYERS and name not in sys.stdlib_module_names:
                found.append(f"{path.relative_to(SRC)} imports the library {name}")
    return found


def test_every_layer_imports_only_inward_and_the_domain_only_the_stdlib() -> None:
    assert _violations() == []
