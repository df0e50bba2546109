"""The fake chat-completions server itself (tests.fakes.chat_server), spoken to over raw HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.fakes.chat_server import FakeChatServer, Reply


def post(url: str, body: dict, key: str = "k") -> tuple[int, dict]:
    req = urllib.request.Request(
        url + "/chat/completions", data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_scripted_replies_in_order_then_default_then_500():
    with FakeChatServer([Reply.text("one", prompt_tokens=3, completion_tokens=4)],
                        default=Reply.text("again")) as server:
        server.push(Reply.error(503, "busy"))
        assert server.pending == 2
        status, body = post(server.url, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200 and body["choices"][0]["message"]["content"] == "one"
        assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        assert body["model"] == "m"
        assert post(server.url, {"model": "m"})[0] == 503
        assert post(server.url, {"model": "m"})[1]["choices"][0]["message"]["content"] == "again"
        server.default = None
        status, body = post(server.url, {"model": "m"})
        assert status == 500 and "no scripted reply left" in body["error"]["message"]
    assert len(server.requests) == 4
    assert server.requests[0].text() == "hi" and server.requests[0].headers["authorization"] == "Bearer k"
    assert server.usage.prompt_tokens == 3 + 100 and server.usage.replies == 2


def test_api_key_and_model_checks_and_models_route():
    with FakeChatServer(default=Reply.text("ok"), api_key="sk-1", models=["a"]) as server:
        assert post(server.url, {"model": "a"}, key="sk-2")[0] == 401
        status, body = post(server.url, {"model": "b"}, key="sk-1")
        assert status == 404 and body["error"]["code"] == "model_not_found"
        assert post(server.url, {"model": "a"}, key="sk-1")[0] == 200
        with urllib.request.urlopen(server.url + "/models", timeout=5) as resp:
            assert [m["id"] for m in json.loads(resp.read())["data"]] == ["a"]


def test_port_is_free_and_url_survives_stop():
    server = FakeChatServer().start()
    url = server.url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1") and server.port > 0
    server.stop()
    assert server.url == url
    with pytest.raises(urllib.error.URLError):
        post(url, {"model": "m"})
