"""The admin console at /ui: server-rendered pages over the same use cases as the management API.

Importing this package loads nothing: the console is assembled by `console.console_router`, which the
app imports on the first request to /ui (adapters/http/app.py), so a gateway nobody browses never loads
its pages."""
