"""Is the Hugging Face Hub reachable? Answered once per process, in about a second at worst."""

from __future__ import annotations

import functools
import os
import socket

HUB_HOST = "huggingface.co"


def _env_says_offline() -> str | None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return f"{var}=1 is set"
    return None


@functools.lru_cache(maxsize=1)
def offline_reason(timeout_s: float = 1.5) -> str | None:
    """Why the Hub cannot be used (a short sentence), or None when it answers.

    One TCP connection with a short time-out, so no notebook sits in network time-outs.
    """
    reason = _env_says_offline()
    if reason:
        return reason
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout_s).close()
    except OSError as err:
        return f"{HUB_HOST} did not answer ({type(err).__name__})"
    return None


def is_online() -> bool:
    """True when the Hugging Face Hub can be reached."""
    return offline_reason() is None
