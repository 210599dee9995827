"""Adapters: the ports implemented with real technology, and the HTTP edge."""
