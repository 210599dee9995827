"""A spend journal in local files: a segment per process, drained by that process or, once it died, by
the next one to look."""

from __future__ import annotations

import bisect
import fcntl
import os
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import structlog

from adapters.journal.codec import UnreadableLine, decode, encode
from domain.spend import SpendRecord
from ports.spend_journal import JournalBatch, JournalUnavailable, SpendJournal

SEGMENT = ".jsonl"
OFFSET = ".offset"
ROTATE_AT = 8 * 1024 * 1024
"""Bytes past which this process's own segment, once drained, is replaced by a fresh one."""
READ_CHUNK = 1024 * 1024
REMEMBERED = 1024
"""Records of this process's own segment kept in memory after their append, until taken: the writer takes
them without reading and decoding their lines again (an outage's backlog past this is read from the file)."""

_log = structlog.get_logger("switchyard.journal")

# The directory holds, per process that ever appended:
#   <uuid>.jsonl        its segment: one JSON line per record (codec.py), appended with O_APPEND, and
#                       flock'ed (exclusive) by whoever owns it: the process that writes it, or, once that
#                       one died (the kernel drops the lock with it), the one process that adopted it
#   <uuid>.offset       the byte offset up to which the segment's records are acknowledged, replaced
#                       whole by a rename; absent: none are
# A segment is created as .<uuid>.tmp, locked and only then renamed, so no one can take it for a dead
# process's before its owner holds the lock. Only the lock holder writes the offset or deletes the files.


class _Segment:
    """One segment this journal holds the lock of, and what it took from it.

    Bytes before `committed` are acknowledged (and persisted); from `read` on they were never taken.
    In between, each span of whole lines is taken (`out`), given back to be taken again (`returned`), or
    acknowledged while an older span is not yet (so `committed` cannot pass it)."""

    __slots__ = (
        "committed",
        "exhausted",
        "fd",
        "order",
        "out",
        "own",
        "path",
        "read",
        "recent",
        "returned",
        "size",
        "waiting",
        "warned",
    )

    def __init__(self, path: Path, fd: int, *, own: bool, committed: int, size: int, order: int) -> None:
        self.path = path
        self.fd = fd
        self.own = own
        self.committed = self.read = committed
        self.size = size
        """Bytes in the file: counted by `append` for this process's own; fixed once its writer died."""
        self.order = order
        self.out: dict[tuple[int, int], int] = {}
        """Each span taken and neither acknowledged nor given back, with the records it holds."""
        self.returned: list[tuple[int, int]] = []
        self.recent: deque[tuple[int, int, SpendRecord]] = deque()
        """This process's own: records appended and not yet taken, with the span of each one's line."""
        self.exhausted = False
        """Read to its last whole line (a dead process's segment never grows again)."""
        self.warned = False
        self.waiting = 0
        """Records not yet acknowledged: counted as appended (this process's own) or as lines when the
        segment was adopted (a dead process's)."""

    @property
    def offset_path(self) -> Path:
        return self.path.with_suffix(OFFSET)

    def floor(self) -> int:
        """The offset before which every record is acknowledged."""
        return min([self.read, *(start for start, _ in self.out), *(start for start, _ in self.returned)])

    def idle(self) -> bool:
        return not self.out and not self.returned


class FileSpendJournal(SpendJournal):
    """Spend records in a directory on local disk, shared by the processes of one machine.

    `append` is one `os.write` to this process's own segment, without fsync: the bytes are in the page
    cache when it returns, which a kill of the process (even -9) keeps, while a crash of the machine may
    lose the last seconds of appends. `fsync=True` closes that gap at the cost of a disk flush per append
    (milliseconds, blocking the event loop).

    `take` reads this process's segment and the segments of dead processes, whose locks it takes (a live
    peer's lock cannot be taken, so two live processes never take the same record): theirs first, oldest
    file first, then its own; within a segment, in the order of appends. A line that does not decode is
    skipped (counted in `skipped`, logged once per segment); an unterminated last line is not taken, since
    its write is unfinished (only a killed writer leaves one for good, and its `append` never returned).

    Records taken and not acknowledged are taken again after `abandon`, or by the next process once this
    one is gone. `acknowledge` persists how far each segment is acknowledged; a dead process's segment is
    deleted once drained, and this process's own is replaced by a fresh file once drained and larger than
    `rotate_at`, so the directory holds little more than what the database has not yet received. Every call is
    synchronous inside (no await), hence atomic within the event loop. Any OSError (a full disk, a
    directory gone) raises `JournalUnavailable`."""

    def __init__(self, directory: Path, *, fsync: bool = False, rotate_at: int = ROTATE_AT) -> None:
        self._directory = Path(directory)
        self._fsync = fsync
        self._rotate_at = rotate_at
        self._orphans: dict[str, _Segment] = {}
        self._torn = False
        """An append failed midway: the next starts with a newline, so the fragment is one bad line."""
        self._closed = False
        self.skipped = 0
        """Lines found unreadable and skipped since this journal opened."""
        with self._io("open"):
            self._directory.mkdir(parents=True, exist_ok=True)
            self._own = self._new_segment()

    def describe(self) -> str:
        return f"file ({self._directory})"

    async def backlog(self) -> int:
        """The records of this process's segment and of the dead processes' it adopted, not yet
        acknowledged (no file is read: each segment keeps its count)."""
        return sum(max(segment.waiting, 0) for segment in (self._own, *self._orphans.values()))

    async def append(self, records: Sequence[SpendRecord]) -> None:
        if not records:
            return
        lines = [encode(record) + b"\n" for record in records]
        data = b"".join(lines)
        with self._io("append"):
            own = self._own
            if self._torn:
                data = b"\n" + data
            start = own.size + len(data) - sum(len(line) for line in lines)
            self._torn = True
            view = memoryview(data)
            while view:  # a regular file takes it all in one write, short of a full disk
                written = os.write(own.fd, view)
                own.size += written
                view = view[written:]
            if self._fsync:
                os.fsync(own.fd)
            self._torn = False
            own.waiting += len(records)
            if len(own.recent) + len(records) <= REMEMBERED:
                for record, line in zip(records, lines, strict=True):
                    own.recent.append((start, start + len(line), record))
                    start += len(line)

    async def take(self, limit: int) -> JournalBatch:
        records: list[SpendRecord] = []
        spans: list[tuple[_Segment, int, int]] = []
        with self._io("take"):
            self._adopt_orphans()
            for segment in (*sorted(self._orphans.values(), key=lambda s: s.order), self._own):
                if len(records) >= limit:
                    break
                self._take_from(segment, limit - len(records), records, spans)
                self._settle(segment)
            self._tidy()
        return JournalBatch(tuple(records), receipt=tuple(spans))

    async def acknowledge(self, batch: JournalBatch) -> None:
        with self._io("acknowledge"):
            for segment, start, end in self._spans(batch):
                segment.waiting -= segment.out.pop((start, end), 0)
                self._settle(segment)
            self._tidy()

    async def abandon(self, batch: JournalBatch) -> None:
        for segment, start, end in self._spans(batch):
            if (start, end) in segment.out:  # given back once only, however often abandoned
                del segment.out[(start, end)]
                bisect.insort(segment.returned, (start, end))

    async def close(self) -> None:
        """Unlocks every segment (records not acknowledged are the next process's to take), and deletes
        this process's own when it holds nothing more."""
        if self._closed:
            return
        self._closed = True
        with self._io("close"):
            for segment in self._orphans.values():
                os.close(segment.fd)
            self._orphans.clear()
            own = self._own
            if own.idle() and own.committed == own.read == own.size:
                self._delete(own)
            else:
                os.close(own.fd)

    # Segments held.

    def _new_segment(self) -> _Segment:
        name = uuid.uuid4().hex
        temporary = self._directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path = temporary.with_name(name + SEGMENT)
            os.rename(temporary, path)
            if self._fsync:
                self._sync_directory()
        except BaseException:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        return _Segment(path, fd, own=True, committed=0, size=0, order=0)

    def _adopt_orphans(self) -> None:
        """Takes the lock of every segment whose process died (and of none whose process lives)."""
        names = set(os.listdir(self._directory))
        for name in names:
            if name.endswith(OFFSET) and name.removesuffix(OFFSET) + SEGMENT not in names:
                # Its segment was deleted by a holder that died before deleting this too.
                (self._directory / name).unlink(missing_ok=True)
            elif name.endswith(SEGMENT) and name != self._own.path.name and name not in self._orphans:
                segment = self._lock(self._directory / name)
                if segment is not None:
                    self._orphans[name] = segment

    def _lock(self, path: Path) -> _Segment | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Between our open and our lock, the previous holder may have drained and deleted it.
            held = os.fstat(fd)
            found = os.stat(path)
            if (held.st_dev, held.st_ino) != (found.st_dev, found.st_ino):
                raise FileNotFoundError(path)
            committed = min(_read_offset(path.with_suffix(OFFSET)), held.st_size)
            waiting = _lines(fd, committed, held.st_size)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        size, order = held.st_size, held.st_mtime_ns
        segment = _Segment(path, fd, own=False, committed=committed, size=size, order=order)
        segment.waiting = waiting
        return segment

    def _tidy(self) -> None:
        """Deletes the dead processes' segments that are drained, and replaces this process's own once
        drained and large."""
        for name, segment in list(self._orphans.items()):
            if segment.exhausted and segment.idle():
                if segment.read < segment.size:
                    self._skip(segment, "an unterminated last line (its writer was killed mid-write)")
                del self._orphans[name]
                self._delete(segment)
        own = self._own
        if own.size >= self._rotate_at and own.idle() and own.committed == own.read == own.size:
            self._own = self._new_segment()
            self._delete(own)

    def _delete(self, segment: _Segment) -> None:
        # Unlinked while still locked, segment first: whoever locks it next sees it gone (see `_lock`).
        segment.path.unlink(missing_ok=True)
        segment.offset_path.unlink(missing_ok=True)
        segment.offset_path.with_name(segment.offset_path.name + ".tmp").unlink(missing_ok=True)
        os.close(segment.fd)

    # Reading and acknowledging.

    def _take_from(
        self, segment: _Segment, want: int, records: list[SpendRecord], spans: list[tuple[_Segment, int, int]]
    ) -> None:
        while want > 0 and segment.returned:
            start, end = segment.returned.pop(0)
            found, stop, _ = self._read(segment, start, end, want, again=True)
            if stop < end:
                segment.returned.insert(0, (stop, end))
            want -= self._took(segment, start, stop, found, records, spans)
        if want > 0 and segment.recent:
            start = segment.read
            found, segment.read = _remembered(segment, want)
            want -= self._took(segment, start, segment.read, found, records, spans)
        if want > 0:
            start = segment.read
            found, segment.read, exhausted = self._read(segment, start, segment.size, want, again=False)
            segment.exhausted = exhausted and not segment.own
            self._took(segment, start, segment.read, found, records, spans)

    @staticmethod
    def _took(
        segment: _Segment,
        start: int,
        stop: int,
        found: list[SpendRecord],
        records: list[SpendRecord],
        spans: list[tuple[_Segment, int, int]],
    ) -> int:
        # A span of nothing but unreadable lines is done with at once; it holds nothing to acknowledge.
        if found:
            segment.out[(start, stop)] = len(found)
            spans.append((segment, start, stop))
            records.extend(found)
        return len(found)

    def _read(
        self, segment: _Segment, start: int, end: int, want: int, *, again: bool
    ) -> tuple[list[SpendRecord], int, bool]:
        """Up to `want` records from the whole lines between `start` and `end`, the offset after the last
        line read, and whether it stopped for want of whole lines."""
        found: list[SpendRecord] = []
        at, buffer, i = start, b"", 0  # `buffer` holds the file from `at`; `i` is where its next line starts
        while len(found) < want:
            newline = buffer.find(b"\n", i)
            if newline < 0:
                have = at + len(buffer)
                chunk = os.pread(segment.fd, min(READ_CHUNK, end - have), have) if have < end else b""
                if not chunk:
                    return found, at + i, True
                buffer, at, i = buffer[i:] + chunk, at + i, 0
                continue
            line, i = buffer[i:newline], newline + 1
            if not line.strip():
                continue
            try:
                found.append(decode(line))
            except UnreadableLine:
                if not again:
                    segment.waiting -= 1  # never to be acknowledged
                    self._skip(segment, "an unreadable line")
        return found, at + i, False

    def _settle(self, segment: _Segment) -> None:
        """Persists how far the segment is acknowledged, when that moved."""
        floor = segment.floor()
        if floor <= segment.committed:
            return
        segment.committed = floor
        path = segment.offset_path
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, str(floor).encode())
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)

    def _spans(self, batch: JournalBatch) -> Iterator[tuple[_Segment, int, int]]:
        """The batch's spans in segments this journal still holds (those of another journal, or of a
        segment since deleted, mean nothing here)."""
        held = {id(self._own), *(id(segment) for segment in self._orphans.values())}
        receipt = batch.receipt if isinstance(batch.receipt, tuple) else ()
        for span in receipt:
            if isinstance(span, tuple) and len(span) == 3 and id(span[0]) in held:
                yield span

    def _skip(self, segment: _Segment, what: str) -> None:
        self.skipped += 1
        if not segment.warned:
            segment.warned = True
            _log.warning("spend journal: skipped " + what, segment=str(segment.path))

    def _sync_directory(self) -> None:
        fd = os.open(self._directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _io(self, doing: str) -> Iterator[None]:
        """The one place where the file system's errors become the port's."""
        if self._closed and doing != "close":
            raise JournalUnavailable(f"the spend journal in {self._directory} is closed")
        try:
            yield
        except OSError as exc:
            raise JournalUnavailable(
                f"the spend journal in {self._directory} failed to {doing}: {exc!r}"
            ) from exc


def _remembered(segment: _Segment, want: int) -> tuple[list[SpendRecord], int]:
    """Up to `want` records remembered from where the segment's reading stands, one after the other, and
    the offset after the last (the lines before it were read from the file, or are not remembered: those
    are read from the file)."""
    recent, at = segment.recent, segment.read
    while recent and recent[0][0] < at:
        recent.popleft()
    found: list[SpendRecord] = []
    while recent and len(found) < want and recent[0][0] == at:
        _, at, record = recent.popleft()
        found.append(record)
    return found, at


def _lines(fd: int, start: int, end: int) -> int:
    """The whole lines between two offsets of a file (read once, when a dead process's segment is
    adopted: a count of its records for `backlog`)."""
    count = 0
    while start < end:
        chunk = os.pread(fd, min(READ_CHUNK, end - start), start)
        if not chunk:
            break
        count += chunk.count(b"\n")
        start += len(chunk)
    return count


def _read_offset(path: Path) -> int:
    try:
        return max(int(path.read_bytes()), 0)
    except (FileNotFoundError, ValueError):
        return 0
