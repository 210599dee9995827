"""What reports on the gateway's calls: the access log (and the tracing, metrics and callbacks to come)."""
