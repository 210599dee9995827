"""multipart/form-data uploads read as they stream in, memory bounded: a file over its limit is refused
(413, naming it) before the rest of the body is read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from litestar import Request
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

from domain.audio import AudioFile
from domain.errors import BadRequestError, RequestTooLargeError

MAX_FIELD_BYTES = 64 * 1024
"""The largest text field (a prompt is at most a few hundred tokens)."""
_MAX_PARTS = 64


@dataclass(slots=True)
class Upload:
    """A form's text fields (every value of each, in order) and its file, when one came."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    file: AudioFile | None = None


def upload_reader(max_file_bytes: int, file_field: str = "file") -> Callable[[Request], Awaitable[Upload]]:
    """Reads a request's form with `file_field` at most `max_file_bytes` (others at most 64 KiB)."""

    async def read(request: Request) -> Upload:
        return await read_upload(request, max_file_bytes, file_field)

    return read


async def read_upload(request: Request, max_file_bytes: int, file_field: str = "file") -> Upload:
    media, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary")
    if media != "multipart/form-data" or not boundary:
        raise BadRequestError("Send the request as multipart/form-data, with the audio as its 'file'.")
    upload = Upload()
    segment: MultipartSegment | None = None
    data = bytearray()
    try:
        with PushMultipartParser(boundary, max_segment_count=_MAX_PARTS) as parser:
            stream = request.stream()
            while not parser.closed:
                chunk = await anext(stream, b"")
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment, data = part, bytearray()
                    elif part is not None and segment is not None:
                        data.extend(part)
                        _bounded(segment, len(data), max_file_bytes, file_field)
                    elif segment is not None:
                        _keep(upload, segment, bytes(data), file_field)
                        segment = None
    except ParserError as exc:
        raise BadRequestError(f"The multipart/form-data body is malformed: {exc}") from exc
    return upload


def _bounded(segment: MultipartSegment, size: int, max_file_bytes: int, file_field: str) -> None:
    if segment.name == file_field and size > max_file_bytes:
        megabytes = f"{max_file_bytes / (1024 * 1024):g}"
        raise RequestTooLargeError(
            f"Invalid '{file_field}': the file is larger than the limit of {megabytes} MB.", param=file_field
        )
    if segment.name != file_field and size > MAX_FIELD_BYTES:
        raise RequestTooLargeError(
            f"Invalid '{segment.name}': the field is larger than {MAX_FIELD_BYTES} bytes.", param=segment.name
        )


def _keep(upload: Upload, segment: MultipartSegment, data: bytes, file_field: str) -> None:
    if segment.name == file_field and segment.filename is not None:
        upload.file = AudioFile(
            segment.filename or "audio", data, segment.content_type or "application/octet-stream"
        )
    else:
        upload.fields.setdefault(segment.name or "", []).append(
            data.decode(segment.charset or "utf-8", "replace")
        )
