"""Server-sent events from the upstream, relayed event by event.

For a stream we always ask the upstream for a final usage chunk (``stream_options.include_usage``)
so usage is recorded; when the client did not ask for it, that extra chunk is dropped here so the
client sees exactly what it requested. Events are split on the blank line that ends them; an event
is forwarded as soon as it is complete — nothing waits for the end of the stream.
"""

from __future__ import annotations

import re

import orjson

MAX_EVENT_BYTES = 1024 * 1024  # an event larger than this is relayed without inspection
_NULL_USAGE = re.compile(rb'"usage"\s*:\s*null')


class SSEUsageFilter:
    __slots__ = (
        "_buffer",
        "_drop_usage_chunk",
        "_pending_cr",
        "completion_tokens",
        "prompt_tokens",
        "saw_error",
    )

    def __init__(self, *, drop_usage_chunk: bool) -> None:
        self._buffer = b""
        self._pending_cr = False
        self._drop_usage_chunk = drop_usage_chunk
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.saw_error = False

    def feed(self, chunk: bytes) -> bytes:
        """Return the complete events from ``chunk`` (plus what was buffered) to forward now."""
        chunk = self._normalize(chunk)
        data = self._buffer + chunk if self._buffer else chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            if len(data) > MAX_EVENT_BYTES:
                # Not SSE as we know it (or a hostile upstream): pass it on instead of holding it.
                self._buffer = b""
                return data
            self._buffer = data
            return b""
        self._buffer = data[end + 2 :]
        complete = data[: end + 2]
        if b'"usage"' not in complete and b'"error"' not in complete:
            return complete  # the common case: no parsing at all
        return b"".join(self._filter(event) for event in complete.split(b"\n\n") if event)

    def finish(self) -> bytes:
        """Whatever is left when the upstream closes (an unterminated last event)."""
        rest = self._buffer + (b"\r" if self._pending_cr else b"")
        self._buffer, self._pending_cr = b"", False
        return self._filter(rest) if rest.strip() else rest

    def _normalize(self, chunk: bytes) -> bytes:
        """SSE allows CRLF and CR line ends; relay them as LF so events split the same way."""
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if b"\r" not in chunk:
            return chunk
        if chunk.endswith(b"\r"):  # may be the first half of a CRLF split across chunks
            chunk, self._pending_cr = chunk[:-1], True
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _filter(self, event: bytes) -> bytes:
        out = event + b"\n\n"
        interesting = b'"usage"' in event and not _NULL_USAGE.search(event)
        if not interesting and b'"error"' not in event:
            return out
        payload = _data_payload(event)
        try:
            obj = orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            return out
        if not isinstance(obj, dict):
            return out
        if "error" in obj:
            self.saw_error = True
        usage = obj.get("usage")
        if not isinstance(usage, dict):
            return out
        self.prompt_tokens = _int(usage.get("prompt_tokens"))
        self.completion_tokens = _int(usage.get("completion_tokens"))
        if self._drop_usage_chunk and not obj.get("choices"):
            return b""
        return out


def _data_payload(event: bytes) -> bytes:
    lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines)


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def usage_from_body(body: bytes) -> tuple[int, int]:
    """Prompt and completion tokens from a non-streamed JSON response (0, 0 when absent)."""
    if b'"usage"' not in body:
        return 0, 0
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0, 0
    usage = obj.get("usage") if isinstance(obj, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    return _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
