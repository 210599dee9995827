"""Package data: the BPE rank files of cl100k_base and o200k_base, gzip-compressed."""
