"""A small OpenAI-compatible model server for tests and benchmarks (a real separate process).

Behaviour is chosen by the request's ``model`` (which the gateway sets from the endpoint):
  - anything else: answer at once;
  - ``mock-paced-<seconds>``: stream 5 content chunks with that pause between them;
  - ``mock-hang``: never answer (for timeouts);
  - ``mock-500`` / ``mock-401``: answer that status;
  - ``mock-break``: start a stream, then drop the connection;
  - ``mock-redirect``: answer 302 to ``/_secret`` (a stand-in for a cloud metadata service).
``GET /_last`` returns the last request (path, headers, JSON body); ``GET /_count`` the count.

Run: python -m tests.support.mock_upstream --port 9001
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import struct
import time
from typing import Any

import orjson
import uvicorn

WORDS = ["Hello", " from", " the", " mock", " upstream"]
STATE: dict[str, Any] = {"last": None, "count": 0}


def _prompt_tokens(body: dict[str, Any]) -> int:
    if "messages" in body:
        text = " ".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
    else:
        raw = body.get("prompt", body.get("input", ""))
        text = " ".join(raw) if isinstance(raw, list) else str(raw)
    return max(1, len(text.split()))


async def _json(send: Any, status: int, obj: Any) -> None:
    body = orjson.dumps(obj)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _chunk(kind: str, model: str, text: str | None, finish: str | None, with_usage: bool) -> dict[str, Any]:
    if kind == "chat":
        delta = {"content": text} if text is not None else {}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        obj = "text_completion"
    out: dict[str, Any] = {
        "id": "cmpl-mock",
        "object": obj,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    if with_usage:
        out["usage"] = None
    return out


async def _stream(send: Any, kind: str, model: str, body: dict[str, Any], pace: float, brk: bool) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    opts = body.get("stream_options") or {}
    with_usage = bool(opts.get("include_usage"))
    for i, word in enumerate(WORDS):
        event = b"data: " + orjson.dumps(_chunk(kind, model, word, None, with_usage)) + b"\n\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})
        if brk and i == 1:
            raise ConnectionAbortedError("mock-break: dropping the connection mid-stream")
        if pace:
            await asyncio.sleep(pace)
    final = b"data: " + orjson.dumps(_chunk(kind, model, None, "stop", with_usage)) + b"\n\n"
    if with_usage:
        prompt = _prompt_tokens(body)
        usage = {
            "id": "cmpl-mock",
            "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": len(WORDS),
                "total_tokens": prompt + len(WORDS),
            },
        }
        final += b"data: " + orjson.dumps(usage) + b"\n\n"
    final += b"data: [DONE]\n\n"
    await send({"type": "http.response.body", "body": final, "more_body": False})


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/_last":
        await _json(send, 200, STATE["last"])
        return
    if path == "/_secret":
        await _json(send, 200, {"secret": "instance-credentials"})
        return
    if path == "/_count":
        await _json(send, 200, {"count": STATE["count"]})
        return
    raw = await _read(receive)
    STATE["count"] += 1
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        await _json(send, 400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
        return
    STATE["last"] = {
        "path": path,
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
        "body": body,
    }
    model = str(body.get("model", "mock"))
    if model == "mock-hang":
        await asyncio.sleep(3600)
    if model == "mock-redirect":
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", b"/_secret"), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    if model == "mock-500":
        await _json(send, 500, {"error": {"message": "mock failure", "type": "server_error"}})
        return
    if model == "mock-401":
        await _json(send, 401, {"error": {"message": "bad upstream key", "type": "authentication_error"}})
        return
    pace = float(model.rsplit("-", 1)[1]) if model.startswith("mock-paced-") else 0.0
    prompt = _prompt_tokens(body)
    usage = {"prompt_tokens": prompt, "completion_tokens": len(WORDS), "total_tokens": prompt + len(WORDS)}
    if path.endswith("/chat/completions") or path.endswith("/completions"):
        kind = "chat" if path.endswith("/chat/completions") else "text"
        if body.get("stream"):
            await _stream(send, kind, model, body, pace, model == "mock-break")
            return
        text = "".join(WORDS)
        if kind == "chat":
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
        await _json(
            send,
            200,
            {
                "id": "cmpl-mock",
                "object": "chat.completion" if kind == "chat" else "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": usage,
            },
        )
        return
    if path.endswith("/embeddings"):
        inputs = body.get("input", "")
        items = inputs if isinstance(inputs, list) else [inputs]
        vector = [0.25, 0.5, 0.75]
        data = []
        for i, _ in enumerate(items):
            emb: Any = vector
            if body.get("encoding_format") == "base64":
                emb = base64.b64encode(struct.pack("<3f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        await _json(
            send,
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
            },
        )
        return
    await _json(send, 404, {"error": {"message": f"no route {path}", "type": "not_found_error"}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
