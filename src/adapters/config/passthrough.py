"""`general_settings.pass_through_endpoints`: the operator's own relayed routes, as LiteLLM reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.config.diagnostics import Report, path_of
from adapters.config.environment import PREFIX
from adapters.config.schema import PassThroughEndpoint
from domain.errors import ConfigurationError
from domain.passthrough import CustomRoute


def custom_routes(
    entries: Sequence[PassThroughEndpoint], environ: Mapping[str, str], report: Report
) -> tuple[CustomRoute, ...]:
    """Each entry as a route. A header value may name a variable anywhere in it (`Bearer
    os.environ/COHERE_API_KEY`, as LiteLLM allows); an unset one drops the header, with a warning."""
    routes = []
    for index, entry in enumerate(entries):
        loc = ("general_settings", "pass_through_endpoints", index)
        path = "/" + entry.path.strip("/")
        if path == "/":
            raise ConfigurationError(path_of(*loc, "path"), "must name a path below the root, like /bria")
        if not entry.target.startswith(("http://", "https://")):
            raise ConfigurationError(path_of(*loc, "target"), "must be an http:// or https:// URL")
        headers = []
        for name, value in entry.headers.items():
            if value is None:
                continue  # an unset variable, reported as it was resolved: the header is not sent
            resolved = _with_variable(value, environ)
            if resolved is None:
                report.warn(path_of(*loc, "headers", name), "names an unset environment variable: not sent")
            else:
                headers.append((name, resolved))
        routes.append(CustomRoute(path, entry.target, tuple(headers), entry.forward_headers, entry.auth))
    return tuple(routes)


def _with_variable(value: str, environ: Mapping[str, str]) -> str | None:
    before, found, name = value.partition(PREFIX)
    if not found:
        return value
    return before + environ[name.strip()] if name.strip() in environ else None
