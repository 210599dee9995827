"""A callback as an operator writes one, for the end-to-end tests: each record appended as a JSON line
to the file $SWITCHYARD_TEST_CALLBACK_FILE names."""

from __future__ import annotations

import json
import os


class FileSink:
    def __init__(self) -> None:
        self.path = os.environ["SWITCHYARD_TEST_CALLBACK_FILE"]

    async def on_success(self, record: dict) -> None:
        self._write("success", record)

    async def on_failure(self, record: dict) -> None:
        self._write("failure", record)

    def _write(self, outcome: str, record: dict) -> None:
        with open(self.path, "a") as sink:
            sink.write(json.dumps({"outcome": outcome, "record": record}) + "\n")
