"""course_utils.parallel: the batch plan, the checks before a launch, and the claim notebook 14 rests on.

The claim: two processes (gloo, on the CPU) that share each global batch train the same model as one process that
covers the same global batch with gradient accumulation. Measured here with accelerate's own ``notebook_launcher``
on a tiny BertForSequenceClassification built from a config (no download), in seconds.

Tolerance, 1e-5 on the loss: the runs compute the same mathematical quantities, but sum them in another order (the
all-reduce adds two processes' gradients where accumulation adds two passes' gradients; one batch of 8 reductions
differ from two of 4 inside the matrix products). A float32 sum in another order changes the last bits, a relative
2**-24 (6e-8) per operation, and over the few steps here the differences we measured stay below 1e-7. 1e-5 leaves
a hundredfold margin, yet the mistakes the check exists for (a different global batch, processes that do not
average their gradients) move the loss by more than 1e-3 (the two negative controls below show it).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator, notebook_launcher
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import BertConfig, BertForSequenceClassification, get_linear_schedule_with_warmup

from course_utils import parallel
from course_utils.errors import CourseError

# Imported here, not inside _train: the launched processes are forks of this one and find them loaded (importing
# transformers' BERT in each process costs seconds).

TOLERANCE = 1e-5
CONTROL_GAP = 1e-3  # what a real mistake moves the loss by, at least


# --- plan_batches ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("global_batch, processes, per_device_max, expected", [
    (32, 1, 32, (32, 1)),
    (32, 1, 16, (16, 2)),
    (32, 2, 16, (16, 1)),
    (32, 2, 8, (8, 2)),
    (32, 4, 8, (8, 1)),
    (24, 2, 5, (4, 3)),  # 12 per process: 5 does not divide 12, so 4 x 3
    (14, 2, 3, (1, 7)),  # 7 per process is prime: one review at a time
    (8, 8, 1, (1, 1)),
])
def test_plan_batches_keeps_the_global_batch_with_the_fewest_accumulation_steps(global_batch, processes,
                                                                              per_device_max, expected):
    plan = parallel.plan_batches(global_batch, processes, per_device_max)
    assert tuple(plan) == expected and (plan.per_device, plan.accumulation) == expected
    assert plan.per_device * processes * plan.accumulation == global_batch
    assert plan.per_device <= per_device_max
    share = global_batch // processes
    assert not any(share % a == 0 and share // a <= per_device_max for a in range(1, plan.accumulation)), \
        "a smaller accumulation would have fitted"


def test_plan_batches_refuses_a_global_batch_the_processes_cannot_share():
    with pytest.raises(CourseError, match=r"Global batch 30 over 4 processes: expected a global batch that is a "
                                          r"multiple of the number of processes .* found 30 = 7 x 4 \+ 2\. "
                                          r"Fix: choose a global batch of 28 or 32\."):
        parallel.plan_batches(30, processes=4, per_device_max=8)
    with pytest.raises(CourseError, match=r"Fix: choose a global batch of 4\.$"):
        parallel.plan_batches(3, processes=4, per_device_max=8)  # fewer examples than processes


@pytest.mark.parametrize("arguments, found", [
    ((0, 1, 8), "global_batch=0"),
    (("32", 2, 8), "global_batch='32'"),
    ((32, 2.0, 8), "processes=2.0"),
    ((32, 2, True), "per_device_max=True"),
    ((-1, 0, 8), "global_batch=-1, processes=0"),  # every problem at once
])
def test_plan_batches_wants_whole_numbers(arguments, found):
    with pytest.raises(CourseError, match=rf"Batch plan: expected whole numbers of at least 1, found {found}\. Fix:"):
        parallel.plan_batches(*arguments)


# --- the checks before a launch (CUDA mocked: our machines have no GPU) ---------------------------------------------

@pytest.fixture
def clean_accelerate():
    """No accelerate state in this process before or after (another test in this worker may have made some)."""
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


def test_cuda_check_reads_torch_without_importing_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert parallel.cuda_initialised_before_launch() is False
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert parallel.cuda_initialised_before_launch() is True
    monkeypatch.delitem(sys.modules, "torch")  # a notebook that never imported torch has not used the GPU
    assert parallel.cuda_initialised_before_launch() is False


def test_check_launch_names_cuda_set_up_before_the_launch(monkeypatch, clean_accelerate):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(CourseError, match=r"^Launching 2 processes: expected a notebook that has not used the GPU "
                                          r".*found CUDA already initialised: an earlier cell ran something on the "
                                          r"GPU \(\.to\('cuda'\).*Fix: restart the kernel .* all GPU work belongs "
                                          r"inside the training function\.$"):
        parallel.check_launch(2, gpus=2)
    assert parallel.launch_problems(1, gpus=1) == []  # one process runs in the notebook itself: nothing to fork


def test_check_launch_reports_every_problem_at_once(monkeypatch, clean_accelerate):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    Accelerator(cpu=True)  # what a cell outside the training function (or a one-process run) leaves behind
    problems = parallel.launch_problems(4, gpus=2)
    assert len(problems) == 3
    assert "CUDA already initialised" in problems[0]
    assert "expected no Accelerator outside the training function" in problems[1]
    assert problems[2].startswith("Launching 4 processes: expected at most one process per GPU (2 visible)")
    assert problems[2].endswith("Fix: pass num_processes=2.")
    with pytest.raises(CourseError, match=r"^3 problems:\n- Launching 4 processes"):
        parallel.check_launch(4, gpus=2)


def test_check_launch_says_ready_on_a_clean_notebook(monkeypatch, clean_accelerate, capsys):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    parallel.check_launch(2)
    assert capsys.readouterr().out.startswith("Ready to launch 2 process(es) on the CPU")
    assert parallel.launch_problems(2, gpus=0) == []  # no GPU: the processes run on the CPU, any number of them
    assert parallel.launch_problems(0) == [
        "num_processes: expected a whole number of at least 1, found 0. Fix: pass num_processes=2 for two GPUs (or 1)."]


def test_free_port_is_a_port_number():
    port = parallel.free_port()
    assert port.isdigit() and 1024 <= int(port) <= 65535


# --- the claim: two processes == one process with the same global batch ------------------------------------------

N_TRAIN, N_TEST, GLOBAL_BATCH, EVAL_BATCH, VOCAB = 48, 13, 8, 4, 64


def _data(n: int, seed: int) -> list[dict]:
    """Token ids of varying length (5-16), so batches get padded as real reviews do; the label says whether the
    first token is in the upper half of the vocabulary (something to learn, so the loss moves)."""
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randint(1, VOCAB, (k,), generator=g) for k in torch.randint(5, 17, (n,), generator=g).tolist()]
    return [{"input_ids": ids, "labels": int(ids[0] >= VOCAB // 2)} for ids in rows]


def _collate(items: list[dict]) -> dict:
    width = max(len(x["input_ids"]) for x in items)
    ids = torch.zeros(len(items), width, dtype=torch.long)
    mask = torch.zeros(len(items), width, dtype=torch.long)
    for row, x in enumerate(items):
        ids[row, :len(x["input_ids"])] = x["input_ids"]
        mask[row, :len(x["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([x["labels"] for x in items])}


def _train(out: str, per_device: int, accumulation: int, cpu: bool = True) -> None:
    """The loop of notebook 14, on a tiny BERT; process 0 writes the step losses and the test scores to ``out``."""
    accelerator = Accelerator(cpu=cpu, gradient_accumulation_steps=accumulation)
    set_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(config)
    train = DataLoader(_data(N_TRAIN, 1), batch_size=per_device, shuffle=True, collate_fn=_collate,
                       generator=torch.Generator().manual_seed(2))
    test = DataLoader(_data(N_TEST, 3), batch_size=EVAL_BATCH, collate_fn=_collate)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model, optimizer, train, test = accelerator.prepare(model, optimizer, train, test)
    total = len(train) // accumulation
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(0.25 * total), total)
    losses, step_loss = [], 0.0
    for batch in train:
        with accelerator.accumulate(model):
            loss = model(**batch).loss
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
        step_loss += loss.detach() / accumulation
        if accelerator.sync_gradients:
            schedule.step()
            losses.append(accelerator.reduce(step_loss, "mean").item())
            step_loss = 0.0
    model.eval()
    per_example = []
    with torch.no_grad():
        for batch in test:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = torch.nn.functional.cross_entropy(logits, batch["labels"], reduction="none")
            per_example.append(accelerator.gather_for_metrics(loss))
    if accelerator.is_main_process:
        test_losses = torch.cat(per_example)
        Path(out).write_text(json.dumps({"losses": losses, "processes": accelerator.num_processes,
                                         "backend": str(accelerator.distributed_type),
                                         "test_loss": test_losses.mean().item(), "test_examples": len(test_losses)}))


def _launch(tmp_path: Path, name: str, processes: int, per_device: int, accumulation: int, cpu: bool = True) -> dict:
    """Run _train under notebook_launcher (forked processes, gloo on the CPU); return what process 0 wrote."""
    out = tmp_path / f"{name}.json"
    notebook_launcher(_train, args=(str(out), per_device, accumulation, cpu), num_processes=processes,
                      use_port=parallel.free_port())
    return json.loads(out.read_text())


@pytest.fixture
def loopback(monkeypatch):
    """gloo on the loopback interface: the processes share one machine, and gloo's choice from the host name is
    unreliable on CI runners (accelerate's own debug_launcher pins it the same way)."""
    if sys.platform == "linux":
        monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")


@pytest.fixture
def one_thread():
    """One torch thread in this process, as accelerate gives each of two CPU processes on two cores (and fast on a
    busy machine, where two threads stall each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_two_processes_train_like_one_process_with_the_same_global_batch(tmp_path, clean_accelerate, one_thread,
                                                                        loopback):
    two_plan = parallel.plan_batches(GLOBAL_BATCH, 2, per_device_max=4)
    one_plan = parallel.plan_batches(GLOBAL_BATCH, 1, per_device_max=4)
    assert (two_plan, one_plan) == ((4, 1), (4, 2))
    # several processes first: after a one-process run this process holds accelerate's state, and may not fork
    two = _launch(tmp_path, "two", 2, *two_plan)
    smaller_global_batch = _launch(tmp_path, "two_no_accumulation", 2, per_device=2, accumulation=1)  # control
    alone = _launch(tmp_path, "each_alone", 2, *two_plan, cpu=False)  # control: on a CPU without cpu=True
    one = _launch(tmp_path, "one", 1, *one_plan)
    one_big_batch = _launch(tmp_path, "one_big_batch", 1, per_device=GLOBAL_BATCH, accumulation=1)

    assert two["processes"] == 2 and two["backend"] == "DistributedType.MULTI_CPU"
    assert one["processes"] == 1 and len(two["losses"]) == len(one["losses"]) == N_TRAIN // GLOBAL_BATCH
    for other in (one, one_big_batch):
        gaps = [abs(a - b) for a, b in zip(two["losses"], other["losses"])]
        assert max(gaps) <= TOLERANCE, \
            f"step losses differ by up to {max(gaps):.2e}: {two['losses']} vs {other['losses']}"
        assert abs(two["test_loss"] - other["test_loss"]) <= TOLERANCE
    assert two["test_examples"] == one["test_examples"] == N_TEST, "gather_for_metrics counts each example once"

    # The tolerance tells a mistake apart: a global batch of 4 instead of 8, and two CPU processes that never
    # averaged their gradients (accelerate without cpu=True on a machine without GPU), both leave it far behind.
    assert max(abs(a - b) for a, b in zip(smaller_global_batch["losses"][1:], one["losses"][1:])) > CONTROL_GAP
    assert alone["processes"] == 1 and alone["backend"] == "DistributedType.NO"
    assert max(abs(a - b) for a, b in zip(alone["losses"][1:], one["losses"][1:])) > CONTROL_GAP
