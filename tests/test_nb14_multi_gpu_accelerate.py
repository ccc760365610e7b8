import json
import sys

import pytest

from nbrun import check_common, execute

pytestmark = pytest.mark.notebook

# The notebook's tolerance on a CPU, in float32: the runs sum the same numbers in another order, which changes the
# last bits only (tests/test_parallel.py measures it, with controls that a real mistake exceeds it).
TOLERANCE = 1e-4
METRICS = ["accuracy", "test_loss", "final_loss_n_processes", "final_loss_1_process", "max_step_loss_difference",
           "test_loss_difference", "processes", "train_seconds_n_processes", "train_seconds_1_process"]


# gloo (two CPU processes) on the loopback interface: its choice from the host name is unreliable on CI runners
LOOPBACK = {"GLOO_SOCKET_IFNAME": "lo"} if sys.platform == "linux" else {}


def analysis(run) -> str:
    return "".join(o.get("data", {}).get("text/markdown", "") for c in run.notebook.cells for o in c.get("outputs", []))


def test_two_cpu_processes_train_like_one_process():
    run = execute("14", env=LOOPBACK)
    check_common(run, METRICS)
    m, extra = run.results["metrics"], run.results["extra"]
    assert m["processes"] == 2, "without a GPU the notebook launches two CPU processes"
    assert extra["backend"] == "DistributedType.MULTI_CPU" and extra["mixed_precision"] == "no"
    assert extra["plans"] == {"launched": {"per_device": 4, "accumulation": 1, "processes": 2},
                              "one_process": {"per_device": 4, "accumulation": 2}}
    assert extra["global_batch"] == 8 and extra["train_reviews"] == 32 and extra["dropout"] == 0.0
    assert extra["tolerance"] == TOLERANCE
    history = extra["history"]
    assert [h["step"] for h in history["launched"]] == [h["step"] for h in history["one_process"]] == [1, 2, 3, 4]
    assert abs(m["final_loss_n_processes"] - m["final_loss_1_process"]) <= TOLERANCE
    assert m["max_step_loss_difference"] <= TOLERANCE and m["test_loss_difference"] <= TOLERANCE
    assert max(abs(a["loss"] - b["loss"]) for a, b in zip(history["launched"], history["one_process"])) <= TOLERANCE

    runs = {p.stem: json.loads(p.read_text()) for p in (run.output_dir / "runs").glob("*.json")}
    assert sorted(runs) == ["launched", "one_process"], "process 0 alone writes each run's record"
    assert runs["launched"]["processes"] == 2 and runs["one_process"]["processes"] == 1
    # 30 test reviews in batches of 16 over 2 processes: accelerate pads the last round, gather_for_metrics drops it
    assert runs["launched"]["test"]["reviews"] == runs["one_process"]["test"]["reviews"] == 30

    text = run.outputs_text()
    assert "Ready to launch 2 process(es) on the CPU" in text
    assert "launched: 4 steps in" in text, "process 0's print reaches the notebook"
    # section 6: after the one-process run in this kernel, the check refuses another launch and says what to do
    assert "expected no Accelerator outside the training function" in text and "Fix: restart the kernel" in text
    shown = analysis(run)
    assert f"{m['final_loss_1_process']:.6f} against {m['final_loss_n_processes']:.6f}" in shown
    assert f"**{m['accuracy']:.1%}**" in shown


def test_one_process_is_the_one_gpu_students_path():
    """num_processes=1 (one GPU, Colab): the launcher runs the function in the notebook; no comparison run."""
    run = execute("14", env=LOOPBACK, num_processes=1)
    m, extra = run.results["metrics"], run.results["extra"]
    assert m["processes"] == 1 and extra["backend"] == "DistributedType.NO"
    assert extra["plans"]["launched"] == {"per_device": 4, "accumulation": 2, "processes": 1}
    assert m["final_loss_n_processes"] == m["final_loss_1_process"] and m["max_step_loss_difference"] == 0
    assert sorted(p.stem for p in (run.output_dir / "runs").glob("*.json")) == ["launched"]
    assert "The launched run used one process: it is the one-process run." in run.outputs_text()
