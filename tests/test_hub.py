"""course_utils.hub: is the Hub reachable? Asked through huggingface_hub's HTTP session at HF_ENDPOINT, cached."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from course_utils import hub
from course_utils.errors import CourseError

OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for var in OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    hub.offline_reason.cache_clear()
    yield
    hub.offline_reason.cache_clear()


class Answering(http.server.BaseHTTPRequestHandler):
    """A stand-in Hub mirror on loopback: answers every HEAD with 401, as the Hub does without a token."""

    seen: list[str] = []

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        Answering.seen.append(self.path)
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Answering.seen = []
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()


@pytest.fixture
def closed_endpoint(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("var", OFFLINE_VARS)
@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_environment_says_offline(monkeypatch, mirror, var, value):
    monkeypatch.setenv(var, value)
    assert hub.offline_reason() == f"{var}=1 is set"
    assert not hub.is_online()
    assert Answering.seen == []  # decided without touching the network


def test_an_answering_mirror_is_online_through_hf_endpoint(mirror):
    assert hub.offline_reason() is None
    assert hub.is_online()
    assert Answering.seen == [hub.PROBE_PATH]


def test_a_closed_endpoint_is_offline_after_two_tries(closed_endpoint, monkeypatch):
    calls = []
    real = hub._probe
    monkeypatch.setattr(hub, "_probe", lambda t: calls.append(t) or real(t))
    reason = hub.offline_reason()
    assert reason.startswith(f"{closed_endpoint} did not answer (")
    assert len(calls) == 2


def test_one_failed_probe_is_retried(monkeypatch, mirror):
    answers = iter(["slow answer (ReadTimeout)", None])
    monkeypatch.setattr(hub, "_probe", lambda t: next(answers))
    assert hub.offline_reason() is None


def test_answer_is_cached_until_refresh(monkeypatch, closed_endpoint, capsys):
    assert not hub.is_online()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        assert not hub.is_online()  # still the remembered answer ...
        assert hub.refresh() is None  # ... until the student asks again
        assert "Hugging Face Hub: reachable" in capsys.readouterr().out
        assert hub.is_online()
    finally:
        server.shutdown()


class FakeResponse:
    def __init__(self, status_code):
        self.status_code = status_code


class HTTPStatusError(Exception):
    def __init__(self, status):
        super().__init__(f"HTTP {status}")
        self.response = FakeResponse(status)


@pytest.mark.parametrize("status, advice", [
    (429, "wait a few minutes"), (503, "the Hub is having trouble"), (401, "check HF_TOKEN"),
    (404, "check the id's spelling"),
])
def test_http_errors_become_advice(status, advice):
    with pytest.raises(CourseError, match=rf"Loading x: expected an answer from the Hugging Face Hub, found "
                                          rf"HTTPStatusError \(HTTP {status}\).*Fix: {advice}"):
        with hub.explain_errors("Loading x"):
            raise HTTPStatusError(status)


def test_time_outs_become_advice():
    with pytest.raises(CourseError, match=r"found TimeoutError.*Fix: check the connection"):
        with hub.explain_errors("Loading x"):
            raise TimeoutError("read timed out")


def test_other_errors_pass_through():
    with pytest.raises(KeyError):
        with hub.explain_errors("Loading x"):
            raise KeyError("label")
