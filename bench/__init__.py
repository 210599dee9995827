"""Switchyard benchmark: a mock upstream, a load generator and an orchestrator (`python -m bench.run`).

Not a test; CI does not run it. See bench/README.md.
"""
