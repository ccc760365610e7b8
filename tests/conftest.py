import sys
from pathlib import Path

import pytest

# tests import their helpers (nbrun) by module name
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # install_cell


@pytest.fixture
def hub_off(monkeypatch):
    """The Hub switched off (HF_HUB_OFFLINE=1), with the cached reachability answer cleared before and after."""
    from course_utils import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.offline_reason.cache_clear()
    yield
    hub.offline_reason.cache_clear()
