"""Survive a disconnect (issue 13): kill notebook 03's kernel mid-training, run it again in the same folder, and it
resumes from its last checkpoint and ends with the same results as a run that was never interrupted.

The kill is real: SIGKILL to the ipykernel process of a papermill run, once a checkpoint is complete on disk (its
trainer_state.json, which Trainer writes last), as when Colab drops a runtime. Metrics are compared exactly: on a
CPU, torch with the same thread count is deterministic, and the checkpoint brings back the weights, the optimizer,
the scheduler and every random generator's state, so the resumed steps are the same steps.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from course_utils import checkpoints
from nbrun import KERNEL_ENV, NOTEBOOK_DIR, notebook_path, run_notebook

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.skipif(checkpoints.DRIVE_ROOT.is_dir() or checkpoints.KAGGLE_ROOT.is_dir(),
                       reason="checkpoints would go to Google Drive or /kaggle/working, not to the test's folder"),
]

# Two epochs: 8 steps in the tiny profile with an evaluation and a checkpoint every 2, so a kill after the first
# checkpoint lands mid-training, and the resumed run crosses an epoch boundary (where the data order reshuffles).
PARAMETERS = {"profile": "tiny", "epochs": 2}
# Columns of training_log.csv that measure the clock, not the training
CLOCK_COLUMNS = {"eval_runtime", "eval_samples_per_second", "eval_steps_per_second"}


def outputs_text(executed: Path) -> str:
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if isinstance(o.get("text", ""), str))


def run(folder: Path) -> tuple[dict, pd.DataFrame, str]:
    """Run notebook 03 to the end with its output_dir in ``folder``: results.json, training log, printed text."""
    source = notebook_path("03")
    folder.mkdir(parents=True, exist_ok=True)
    run_notebook(source, folder, {**PARAMETERS, "output_dir": str(folder / "outputs")})
    results = json.loads((folder / "outputs" / "results.json").read_text())
    log = pd.read_csv(folder / "outputs" / "training_log.csv")
    # sorted columns: a resumed run reads its log back from trainer_state.json, whose keys are sorted
    log = log[sorted(set(log.columns) - CLOCK_COLUMNS)]
    return results, log, outputs_text(folder / source.name)


def kernel_of(pid: int) -> psutil.Process:
    """The ipykernel process papermill (``pid``) started."""
    kernels = [p for p in psutil.Process(pid).children(recursive=True)
               if any("ipykernel" in part for part in p.cmdline())]
    assert len(kernels) == 1, f"expected one ipykernel under papermill, found {kernels}"
    return kernels[0]


def run_and_kill(folder: Path) -> int:
    """Start notebook 03 under papermill, SIGKILL its kernel once a checkpoint is complete; the checkpoint's step."""
    source = notebook_path("03")
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_ENV}
    env.update({k: v for k, v in KERNEL_ENV.items() if v is not None})
    # papermill's Python API in a process of its own (its command line cannot choose the kernel's transport)
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import kernels, papermill; "
              f"papermill.execute_notebook({str(source)!r}, {str(folder / source.name)!r}, cwd={str(NOTEBOOK_DIR)!r}, "
              f"kernel_name='python3', progress_bar=False, kernel_manager_class=kernels.AsyncUnixSocketKernelManager, "
              f"parameters={ {**PARAMETERS, 'output_dir': str(folder / 'outputs')}!r})")
    command = [sys.executable, "-c", script]
    papermill = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 600
    try:
        while not (states := list((folder / "outputs").glob("checkpoints-*/checkpoint-*/trainer_state.json"))):
            assert papermill.poll() is None, f"papermill ended before any checkpoint:\n{papermill.stdout.read()}"
            assert time.time() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.02)
        kernel_of(papermill.pid).send_signal(signal.SIGKILL)
        output, _ = papermill.communicate(timeout=300)
    finally:
        if papermill.poll() is None:
            papermill.kill()
    assert papermill.returncode != 0, f"papermill should fail when its kernel dies:\n{output[-2000:]}"
    assert "DeadKernelError" in output or "Kernel died" in output, output[-2000:]
    assert not (folder / "outputs" / "results.json").exists(), "the killed run must not have finished"
    state = json.loads(states[0].read_text())
    return int(state["global_step"])


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    """One run of notebook 03 that nothing interrupts: (folder, results, training log, printed text)."""
    from course_utils import models

    # Build the tiny model before any compared run: the kernel that first builds it (torch.manual_seed inside
    # models.tiny_bert_path) draws its classifier head from another random state than the kernels after it.
    models.resolve_model(models.TINY_MODEL)
    folder = tmp_path_factory.mktemp("unbroken")
    return (folder, *run(folder))


def test_killed_run_resumes_and_ends_with_the_results_of_an_unbroken_run(unbroken, tmp_path):
    _, results, log, text = unbroken
    assert "No checkpoint yet: training from the start." in text
    assert "Resuming from" not in text

    killed = tmp_path / "killed"
    killed_at = run_and_kill(killed)
    last = checkpoints.last_checkpoint(next((killed / "outputs").glob("checkpoints-*")))
    assert last is not None, "the killed run left no usable checkpoint"
    state = json.loads((last / "trainer_state.json").read_text())
    assert state["global_step"] < state["max_steps"], \
        f"the kill landed after training had finished (step {state['global_step']} of {state['max_steps']})"

    resumed, resumed_log, resumed_text = run(killed)
    assert f"Resuming from {last.name} (saved " in resumed_text, resumed_text[-3000:]
    assert resumed["metrics"] == results["metrics"]  # exactly: see the module docstring
    assert resumed["extra"]["best_validation_accuracy"] == results["extra"]["best_validation_accuracy"]
    pd.testing.assert_frame_equal(resumed_log, log, check_exact=True)  # every logged step, loss and score
    print(f"killed once checkpoint-{killed_at} was complete, resumed from {last.name} of {state['max_steps']} steps")


def test_rerun_of_a_finished_run_keeps_its_results(unbroken):
    folder, results, log, _ = unbroken
    again, again_log, again_text = run(folder)
    assert "Resuming from checkpoint-" in again_text
    assert again["metrics"] == results["metrics"]
    pd.testing.assert_frame_equal(again_log, log, check_exact=True)
