"""Use cases: what Switchyard does, in terms of the domain and the ports."""
