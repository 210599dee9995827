"""The HTTP edge: a Litestar app speaking the OpenAI wire format to clients."""
