"""Spend journals: where spend records wait, durable, between a call's end and the database."""
