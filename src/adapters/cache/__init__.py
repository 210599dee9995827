"""Response caches and shared counters (in memory and Redis)."""
