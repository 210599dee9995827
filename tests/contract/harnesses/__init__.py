"""One harness module per LLMProvider adapter; the contract suite finds them all."""
