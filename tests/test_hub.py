"""course_utils.hub: is the Hub reachable? Decided by the environment or one short TCP connection, cached."""

from __future__ import annotations

import socket

import pytest

from course_utils import hub

OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for var in OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    hub.offline_reason.cache_clear()
    yield
    hub.offline_reason.cache_clear()


class Connection:
    def close(self):
        pass


def no_network(calls):
    def connect(address, timeout):
        calls.append((address, timeout))
        raise ConnectionRefusedError("refused")

    return connect


@pytest.mark.parametrize("var", OFFLINE_VARS)
@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_environment_says_offline(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    calls = []
    monkeypatch.setattr(socket, "create_connection", no_network(calls))
    assert hub.offline_reason() == f"{var}=1 is set"
    assert not hub.is_online()
    assert calls == []  # no network attempt when the environment already says offline


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_false_values_do_not_mean_offline(monkeypatch, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: Connection())
    assert hub.offline_reason() is None
    assert hub.is_online()


def test_unreachable_hub_is_named_with_the_error(monkeypatch):
    calls = []
    monkeypatch.setattr(socket, "create_connection", no_network(calls))
    assert hub.offline_reason() == "huggingface.co did not answer (ConnectionRefusedError)"
    assert calls == [(("huggingface.co", 443), 1.5)]  # one short attempt


def test_answer_is_cached_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(socket, "create_connection", no_network(calls))
    assert not hub.is_online()
    assert not hub.is_online()
    assert hub.offline_reason() == "huggingface.co did not answer (ConnectionRefusedError)"
    assert len(calls) == 1
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: Connection())
    assert not hub.is_online()  # still the cached answer ...
    hub.offline_reason.cache_clear()
    assert hub.is_online()  # ... until the cache is cleared
