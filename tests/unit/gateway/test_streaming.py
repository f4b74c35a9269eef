"""SSE relay filter: chunking never changes what the client sees; the injected usage chunk is dropped."""

from __future__ import annotations

import random

import orjson
import pytest

from xerotier.gateway.streaming import SSEUsageFilter, usage_from_body


def _event(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _chunk(content: str | None, *, finish: str | None = None, usage: object = ...) -> dict[str, object]:
    obj: dict[str, object] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}],
    }
    if usage is not ...:
        obj["usage"] = usage
    return obj


USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
USAGE_EVENT = _event(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": USAGE,
    }
)
DONE = b"data: [DONE]\n\n"
BEFORE_USAGE = (
    b": keep-alive comment\n\n"
    + _event(_chunk("Hel"))
    + b"event: message\nid: 2\n"
    + b"data: "
    + orjson.dumps(_chunk('lo, \\u00e9 "world" \n\n inside a string'))
    + b"\n\n"
    + _event(_chunk(" caf\u00e9 \U0001f600"))
    + _event(_chunk(None, finish="stop"))
)
STREAM = BEFORE_USAGE + USAGE_EVENT + DONE
STREAM_WITHOUT_USAGE = BEFORE_USAGE + DONE


def _run(sse: SSEUsageFilter, chunks: list[bytes]) -> bytes:
    out = b"".join(sse.feed(chunk) for chunk in chunks)
    return out + sse.finish()


def _random_split(rng: random.Random, data: bytes) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, min(40, len(data) - 1))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# -- chunking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("drop", [True, False])
def test_byte_by_byte_matches_feeding_whole(drop: bool) -> None:
    whole = SSEUsageFilter(drop_usage_chunk=drop)
    expected = _run(whole, [STREAM])
    by_byte = SSEUsageFilter(drop_usage_chunk=drop)
    assert _run(by_byte, [STREAM[i : i + 1] for i in range(len(STREAM))]) == expected
    assert (by_byte.prompt_tokens, by_byte.completion_tokens) == (
        whole.prompt_tokens,
        whole.completion_tokens,
    )
    assert (whole.prompt_tokens, whole.completion_tokens) == (12, 7)


@pytest.mark.parametrize("drop", [True, False])
def test_random_splits_match_feeding_whole(drop: bool) -> None:
    expected = _run(SSEUsageFilter(drop_usage_chunk=drop), [STREAM])
    rng = random.Random(20240601)
    for _ in range(300):
        sse = SSEUsageFilter(drop_usage_chunk=drop)
        assert _run(sse, _random_split(rng, STREAM)) == expected
        assert (sse.prompt_tokens, sse.completion_tokens) == (12, 7)
        assert not sse.saw_error


def test_a_split_inside_the_blank_line_is_reassembled() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    first = _event(_chunk("a"))
    assert sse.feed(first[:-1]) == b""
    assert sse.feed(first[-1:]) == first


def test_a_complete_event_is_forwarded_at_once_and_a_partial_one_waits() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    first, second = _event(_chunk("a")), _event(_chunk("b"))
    assert sse.feed(first + second[:10]) == first
    assert sse.feed(second[10:]) == second
    assert sse.finish() == b""


def test_usage_chunk_split_across_feeds_is_still_recognised_and_dropped() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    half = len(USAGE_EVENT) // 2
    out = sse.feed(BEFORE_USAGE + USAGE_EVENT[:half])
    out += sse.feed(USAGE_EVENT[half:] + DONE)
    out += sse.finish()
    assert out == STREAM_WITHOUT_USAGE
    assert (sse.prompt_tokens, sse.completion_tokens) == (12, 7)


# -- the usage chunk ---------------------------------------------------------------------------


def test_usage_chunk_is_dropped_when_the_gateway_injected_it() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    assert _run(sse, [STREAM]) == STREAM_WITHOUT_USAGE
    assert (sse.prompt_tokens, sse.completion_tokens) == (12, 7)


def test_usage_chunk_is_kept_when_the_client_asked_for_it() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=False)
    assert _run(sse, [STREAM]) == STREAM
    assert (sse.prompt_tokens, sse.completion_tokens) == (12, 7)


def test_usage_on_a_chunk_with_choices_is_counted_but_never_dropped() -> None:
    # Servers with continuous usage stats attach usage to content chunks; the content must survive.
    event = _event(_chunk("x", usage={"prompt_tokens": 3, "completion_tokens": 1}))
    sse = SSEUsageFilter(drop_usage_chunk=True)
    assert _run(sse, [event]) == event
    assert (sse.prompt_tokens, sse.completion_tokens) == (3, 1)


def test_null_usage_chunks_pass_untouched() -> None:
    events = [
        _event(_chunk("a", usage=None)),
        b'data: {"choices":[],"usage" :  null}\n\n',
        b'data: {"choices": [], "usage":null}\n\n',
    ]
    stream = b"".join(events) + DONE
    for drop in (True, False):
        sse = SSEUsageFilter(drop_usage_chunk=drop)
        assert _run(sse, [stream]) == stream
        assert (sse.prompt_tokens, sse.completion_tokens) == (0, 0)


def test_unterminated_last_usage_event_is_parsed_on_finish() -> None:
    tail = USAGE_EVENT.rstrip(b"\n")
    for drop, expected_tail in ((True, b""), (False, USAGE_EVENT)):
        sse = SSEUsageFilter(drop_usage_chunk=drop)
        assert sse.feed(BEFORE_USAGE + tail) == BEFORE_USAGE
        assert sse.finish() == expected_tail
        assert (sse.prompt_tokens, sse.completion_tokens) == (12, 7)


def test_finish_with_only_whitespace_left_returns_it_as_is() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    assert sse.feed(_event(_chunk("a"))) == _event(_chunk("a"))
    assert sse.feed(b"\n") == b""
    assert sse.finish() == b"\n"
    assert sse.finish() == b""


@pytest.mark.parametrize(
    "event",
    [
        b'data: {"usage": {"prompt_tokens": 1, \n\n',  # invalid JSON
        b'data: ["usage", {"prompt_tokens": 1}]\n\n',  # not an object
        b'data: {"choices": [], "usage": "lots"}\n\n',  # usage not an object
        b'event: usage\ndata: {"x": 1}\n\n',  # the word appears outside the data
    ],
)
def test_unparseable_usage_like_events_pass_untouched(event: bytes) -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    assert _run(sse, [event]) == event
    assert (sse.prompt_tokens, sse.completion_tokens) == (0, 0)


def test_bad_token_counts_are_read_as_zero() -> None:
    event = _event({"choices": [], "usage": {"prompt_tokens": -5, "completion_tokens": "7"}})
    sse = SSEUsageFilter(drop_usage_chunk=False)
    assert _run(sse, [event]) == event
    assert (sse.prompt_tokens, sse.completion_tokens) == (0, 0)


# -- errors ------------------------------------------------------------------------------------


def test_an_error_event_sets_saw_error_and_is_forwarded() -> None:
    error = _event({"error": {"message": "model crashed", "type": "server_error", "code": None}})
    stream = _event(_chunk("a")) + error
    sse = SSEUsageFilter(drop_usage_chunk=True)
    assert _run(sse, [stream]) == stream
    assert sse.saw_error


def test_an_error_event_split_byte_by_byte_sets_saw_error() -> None:
    error = _event({"error": {"message": "boom"}})
    sse = SSEUsageFilter(drop_usage_chunk=True)
    assert _run(sse, [error[i : i + 1] for i in range(len(error))]) == error
    assert sse.saw_error


def test_a_normal_stream_does_not_set_saw_error() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    _run(sse, [STREAM])
    assert not sse.saw_error


def test_a_comment_mentioning_error_does_not_set_saw_error() -> None:
    sse = SSEUsageFilter(drop_usage_chunk=True)
    _run(sse, [b': "error" is just a comment\n\n' + DONE])
    assert not sse.saw_error


def test_generated_text_that_is_the_word_error_does_not_set_saw_error() -> None:
    # A model may well emit the token "error"; that is content, not an upstream error event.
    sse = SSEUsageFilter(drop_usage_chunk=True)
    stream = _event(_chunk("error")) + USAGE_EVENT + DONE
    assert _run(sse, [stream]) == _event(_chunk("error")) + DONE
    assert not sse.saw_error


# -- line endings ------------------------------------------------------------------------------


def _lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def test_crlf_terminated_events_are_forwarded_as_soon_as_complete() -> None:
    # The SSE format allows CRLF line endings (sse-starlette emits them by default); a complete
    # event must not wait for the end of the stream. Either line ending may reach the client.
    sse = SSEUsageFilter(drop_usage_chunk=False)
    event = b"data: " + orjson.dumps(_chunk("a")) + b"\r\n\r\n"
    assert _lf(sse.feed(event)) == _lf(event)


@pytest.mark.parametrize("split", [False, True])
def test_usage_in_a_crlf_stream_is_counted_and_dropped(split: bool) -> None:
    crlf = (_event(_chunk("a")) + USAGE_EVENT + DONE).replace(b"\n", b"\r\n")
    chunks = [crlf[i : i + 1] for i in range(len(crlf))] if split else [crlf]
    sse = SSEUsageFilter(drop_usage_chunk=True)
    assert _lf(_run(sse, chunks)) == _event(_chunk("a")) + DONE
    assert (sse.prompt_tokens, sse.completion_tokens) == (12, 7)


# -- usage_from_body ---------------------------------------------------------------------------


def test_usage_from_body_reads_tokens() -> None:
    body = orjson.dumps({"object": "chat.completion", "choices": [], "usage": USAGE})
    assert usage_from_body(body) == (12, 7)


def test_usage_from_body_embeddings_without_completion_tokens() -> None:
    body = orjson.dumps({"object": "list", "data": [], "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    assert usage_from_body(body) == (4, 0)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b'{"choices": []}',
        b'{"usage": null}',
        b'{"usage": "12"}',
        b'{"usage": [12, 7]}',
        b'{"usage": {"prompt_tokens": 1',
        b'["usage", {"prompt_tokens": 1}]',
        b'"usage"',
        b'not json with "usage" inside',
        b'{"text": "the word \\"usage\\" in content"}',
    ],
)
def test_usage_from_body_without_usable_usage_is_zero(body: bytes) -> None:
    assert usage_from_body(body) == (0, 0)


def test_usage_from_body_ignores_negative_and_non_integer_counts() -> None:
    body = orjson.dumps({"usage": {"prompt_tokens": -3, "completion_tokens": 2.5}})
    assert usage_from_body(body) == (0, 0)
    body = orjson.dumps({"usage": {"prompt_tokens": 3, "completion_tokens": None}})
    assert usage_from_body(body) == (3, 0)


def test_an_endless_event_is_passed_on_not_hoarded() -> None:
    from xerotier.gateway.streaming import MAX_EVENT_BYTES

    sse = SSEUsageFilter(drop_usage_chunk=True)
    chunk = b"x" * (64 * 1024)
    forwarded = b"".join(sse.feed(chunk) for _ in range(MAX_EVENT_BYTES // len(chunk) + 2))
    assert forwarded  # once past the cap, bytes flow instead of piling up
    rest = sse.finish().removesuffix(b"\n\n")  # finish() terminates the last event
    assert len(forwarded) + len(rest) == (MAX_EVENT_BYTES // len(chunk) + 2) * len(chunk)
