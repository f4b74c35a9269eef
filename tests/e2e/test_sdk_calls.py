"""The official OpenAI SDK against a real gateway and a real upstream process: the happy paths."""

from __future__ import annotations

import itertools
import time

from tests.e2e.conftest import UPSTREAM_SECRET, Stack


def test_chat_completion(stack: Stack) -> None:
    reply = stack.client().chat.completions.create(
        model="whatever-the-client-says", messages=[{"role": "user", "content": "hello there"}]
    )
    assert reply.choices[0].message.content == "Hello from the mock upstream"
    assert reply.model == "mock-model"
    assert reply.usage is not None and reply.usage.completion_tokens == 5

    seen = stack.upstream.last_request()
    assert seen["path"] == "/v1/chat/completions"
    assert seen["body"]["model"] == "mock-model"  # the endpoint decides the model
    headers = seen["headers"]
    assert (
        headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    )  # the endpoint's stored key, not the client's
    assert stack.keys["main"] not in str(seen)
    assert headers["x-request-id"].startswith("req_")


def test_response_carries_request_id(stack: Stack) -> None:
    raw = stack.client().chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-request-id"].startswith("req_")


def test_streaming_without_usage_hides_the_usage_chunk(stack: Stack) -> None:
    chunks = list(
        stack.client().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock upstream"
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)  # the upstream's choices-less usage chunk was not passed on
    # …but the gateway did ask the upstream for it, so usage can be recorded
    assert stack.upstream.last_request()["body"]["stream_options"] == {"include_usage": True}


def test_streaming_with_usage(stack: Stack) -> None:
    chunks = list(
        stack.client().chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 3 and chunks[-1].usage.completion_tokens == 5


def test_completions_plain_and_streaming(stack: Stack) -> None:
    client = stack.client()
    reply = client.completions.create(model="m", prompt="say hi")
    assert reply.choices[0].text == "Hello from the mock upstream"
    streamed = "".join(
        c.choices[0].text for c in client.completions.create(model="m", prompt="hi", stream=True) if c.choices
    )
    assert streamed == "Hello from the mock upstream"


def test_embeddings(stack: Stack) -> None:
    result = stack.client().embeddings.create(model="m", input=["a", "b"])
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == [0.25, 0.5, 0.75]
    assert result.usage.prompt_tokens == 2


def test_models_on_endpoint_and_project(stack: Stack) -> None:
    on_endpoint = [m.id for m in stack.client().models.list()]
    assert on_endpoint == ["chat"]
    on_project = {m.id for m in stack.client(endpoint=None).models.list()}
    assert {"chat", "limited", "slow"} <= on_project
    assert "inactive" not in on_project
    bound = [m.id for m in stack.client("bound", endpoint=None).models.list()]
    assert bound == ["chat"]  # a bound key sees only its endpoint


def test_stream_chunks_arrive_while_upstream_is_still_producing(stack: Stack) -> None:
    started = time.monotonic()
    arrivals = []
    for chunk in stack.client(endpoint="slow").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 5
    total = time.monotonic() - started
    # upstream pauses 0.3 s after each chunk: the first must arrive long before the stream ends
    assert arrivals[0] < total - 1.0, arrivals
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) > 0.2, gaps
