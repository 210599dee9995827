"""The real command-line clients the end-to-end tests drive (Codex, Claude Code): installed from npm once per
version into a cache outside the work tree, and run in an environment that keeps them on this machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

NOWHERE = "http://127.0.0.1:9"
"""A closed local port: where every proxy variable points, so that a call a setting missed fails at once."""
LOOPBACK = "127.0.0.1,localhost,::1"


def cache_dir(name: str, override_variable: str) -> Path:
    """Where the client `name` (`<tool>-<version>`) is installed: $`override_variable`, else
    $XDG_CACHE_HOME/switchyard/`name` (~/.cache by default): the installs weigh hundreds of MB."""
    if custom := os.environ.get(override_variable):
        return Path(custom)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "switchyard" / name


def _runs(executable: Path, banner: str) -> bool:
    try:
        done = subprocess.run([str(executable), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and banner in done.stdout


def find_or_install(
    package: str, command: str, directory: Path, banner: str, configured: str | None
) -> Path | None:
    """The executable `command` of the npm `package` (`name@version`): `configured` (a path from the
    environment) when given, else the one under `directory`, installed there with npm when missing. It
    must answer `--version` with `banner` in its output. None when there is none (no npm, no registry, or
    a platform the package has no binary for)."""
    if configured:
        path = Path(configured)
        return path if path.exists() else None
    executable = directory / "node_modules" / ".bin" / command
    if executable.exists():
        return executable if _runs(executable, banner) else None
    npm = shutil.which("npm")
    if npm is None:
        return None
    # Installed beside the final place and renamed into it, so a run cut short leaves nothing half done.
    partial = directory.with_name(f"{directory.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        subprocess.run(
            [npm, "install", "--prefix", str(partial), "--no-audit", "--no-fund", "--loglevel=error",
             package],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
        with contextlib.suppress(OSError):  # another process may have got there first
            partial.rename(directory)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return executable if executable.exists() and _runs(executable, banner) else None


def sealed_env(home: str | Path) -> dict[str, str]:
    """A client's base environment: `home` as HOME (so nothing of this machine's user config is read), no
    provider keys, and every proxy variable pointing at NOWHERE, loopback excepted, so that nothing can
    leave the machine even if a setting is missed."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    proxies = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
    env.update({variable: NOWHERE for name in proxies for variable in (name, name.lower())})
    env.update({"HOME": str(home), "NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK, "NO_COLOR": "1"})
    return env
