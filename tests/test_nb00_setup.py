import os

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook


def test_setup_notebook_reports_environment():
    before = dict(os.environ)
    run = execute("00")
    assert dict(os.environ) == before, "the runner must leave its worker's environment as it found it"
    check_common(run, ["gpu_available", "hub_reachable"])
    assert run.results["metrics"]["hub_reachable"] == 0  # the test switches the Hub off
    text = run.outputs_text()
    assert "Profile: tiny" in text
    assert "tiny random BERT" in run.results["model_source"]
