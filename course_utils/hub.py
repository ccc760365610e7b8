"""Is the Hugging Face Hub reachable? Asked through huggingface_hub's own HTTP session, answered once per process.

The probe honours what huggingface_hub honours (``HF_ENDPOINT`` for a mirror, proxy variables), tries twice
before it decides the Hub is away, and ``refresh()`` asks again after a network hiccup.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterator

from .errors import CourseError, problem

PROBE_PATH = "/api/whoami-v2"  # any answer (even 401 without a token) proves the Hub is there


def _env_says_offline() -> str | None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return f"{var}=1 is set"
    return None


def endpoint() -> str:
    """The Hub address huggingface_hub uses (``HF_ENDPOINT``, default https://huggingface.co)."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or "https://huggingface.co"


def _probe(timeout_s: float) -> str | None:
    """One HEAD request through huggingface_hub's session: None when any HTTP answer came back, else why not."""
    from huggingface_hub.utils import get_session

    try:
        get_session().head(endpoint() + PROBE_PATH, timeout=timeout_s)
    except Exception as err:  # httpx (hub 1.x) and httpx2 (hub 2.x) raise different types; any failure counts
        return f"{endpoint()} did not answer ({type(err).__name__})"
    return None


@functools.lru_cache(maxsize=1)
def offline_reason(timeout_s: float = 3.0, tries: int = 2) -> str | None:
    """Why the Hub cannot be used (a short sentence), or None when it answers.

    Asked once per process and remembered; ``refresh()`` asks again. Two tries, so one slow answer on a busy
    Colab network does not switch a whole session to the offline copies.
    """
    reason = _env_says_offline()
    if reason:
        return reason
    for attempt in range(tries):
        reason = _probe(timeout_s)
        if reason is None:
            return None
        if attempt + 1 < tries:
            time.sleep(0.5)
    return reason


def is_online() -> bool:
    """True when the Hugging Face Hub can be reached."""
    return offline_reason() is None


def refresh() -> str | None:
    """Forget the remembered answer and probe the Hub again (after reconnecting); returns the new offline reason."""
    offline_reason.cache_clear()
    reason = offline_reason()
    print("Hugging Face Hub:", "reachable" if reason is None else f"not reachable ({reason})")
    return reason


def _status_of(err: BaseException) -> int | None:
    """The HTTP status code carried by a Hub or HTTP error, if any."""
    response = getattr(err, "response", None)
    return getattr(response, "status_code", None)


def advice_for(err: BaseException) -> str:
    """What a student should do about an error raised while talking to the Hub."""
    status = _status_of(err)
    name = type(err).__name__
    if status == 429:
        return ("wait a few minutes and re-run the cell: the Hub limits anonymous downloads; a free read token in "
                "HF_TOKEN (Colab: Secrets panel, Kaggle: Add-ons > Secrets) lifts the limit")
    if status in (401, 403):
        return ("check HF_TOKEN: the Hub refused it (a gated or private repository needs a token that may read it; "
                "accept the model's terms on its Hub page first)")
    if status == 404:
        return "check the id's spelling on https://huggingface.co (owner/name), or use the course's default"
    if status is not None and status >= 500:
        return "the Hub is having trouble: wait a few minutes and re-run the cell, or work offline with the local copy"
    if "Timeout" in name or "Connect" in name or "Network" in name or isinstance(err, (TimeoutError, OSError)):
        return ("check the connection (Kaggle: Settings > Internet on), then run `cu.hub.refresh()` and re-run the "
                "cell; offline, set COURSE_DATA_DIR to the course's local data")
    return ("re-run the cell; if it fails again, set HF_HUB_OFFLINE=1 and COURSE_DATA_DIR to work from the local "
            "copies, and tell your instructor what the error said")


@contextlib.contextmanager
def explain_errors(what: str) -> Iterator[None]:
    """Turn a network or Hub error inside the block into a CourseError that says what failed and what to do.

    Errors that are not about the network (a wrong column, a bug) pass through untouched.
    """
    try:
        yield
    except CourseError:
        raise
    except Exception as err:
        if not _is_network_error(err):
            raise
        status = _status_of(err)
        found = f"{type(err).__name__}" + (f" (HTTP {status})" if status else "") + f": {str(err)[:300]}"
        raise CourseError(problem(what, "an answer from the Hugging Face Hub", found, advice_for(err))) from err


def _is_network_error(err: BaseException) -> bool:
    """True for errors that come from the network or the Hub's HTTP answers."""
    if _status_of(err) is not None or isinstance(err, (TimeoutError, ConnectionError)):
        return True
    name, module = type(err).__name__, (type(err).__module__ or "").split(".")[0]
    return "Timeout" in name or "Connect" in name or module in {"httpx", "httpx2", "httpcore", "requests", "urllib3"}
