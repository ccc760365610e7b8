"""course_utils.checkpoints on real tiny checkpoint folders: where they go, which one is usable, what resumes."""

import json
import os
import re
import shutil

import pytest
import torch

from course_utils import checkpoints
from course_utils.checkpoints import checkpoint_dir, check_checkpoint, last_checkpoint, resume_from
from course_utils.errors import CourseError


def save_checkpoint(folder, step, max_steps=8, epoch=None, weights=True, state=True, optimizer=True):
    """A checkpoint-<step> folder as Trainer writes it: safetensors weights, torch archives, trainer_state.json."""
    from safetensors.torch import save_file

    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if weights:
        save_file({"classifier.weight": torch.ones(2, 4), "classifier.bias": torch.zeros(2)},
                  path / "model.safetensors")
    if optimizer:
        torch.save({"state": {0: {"exp_avg": torch.zeros(2, 4)}}}, path / "optimizer.pt")
        torch.save({"last_epoch": step}, path / "scheduler.pt")
        torch.save({"cpu": torch.get_rng_state()}, path / "rng_state.pth")
    if state:
        (path / "trainer_state.json").write_text(json.dumps(
            {"global_step": step, "max_steps": max_steps, "epoch": step / 4 if epoch is None else epoch}))
    return path


def cut_short(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---------------------------------------------------------------- where checkpoints go

def test_output_dir_when_neither_drive_nor_kaggle(tmp_path, capsys):
    folder = checkpoint_dir("03_text_classification", tmp_path / "out", drive_root=tmp_path / "no-drive",
                            kaggle_root=tmp_path / "no-kaggle")
    assert folder == tmp_path / "out" / "checkpoints"
    assert not folder.exists()  # without settings nothing is written: Trainer creates the folder
    assert capsys.readouterr().out == f"Checkpoints go to {folder} (in output_dir).\n"


def test_drive_wins_when_mounted_then_kaggle(tmp_path, capsys):
    drive, kaggle = tmp_path / "MyDrive", tmp_path / "working"
    kaggle.mkdir()
    assert checkpoint_dir("04_qa", "out", drive_root=drive, kaggle_root=kaggle) == kaggle / "bert-course" / "04_qa" / \
        "checkpoints"
    drive.mkdir()
    assert checkpoint_dir("04_qa", "out", drive_root=drive, kaggle_root=kaggle) == drive / "bert-course" / "04_qa" / \
        "checkpoints"
    assert "Google Drive: they survive a disconnect" in capsys.readouterr().out.splitlines()[-1]


def test_colab_without_drive_says_how_to_mount_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-test")
    checkpoint_dir("03", tmp_path, drive_root=tmp_path / "none", kaggle_root=tmp_path / "none")
    assert "drive.mount('/content/drive')" in capsys.readouterr().out


def test_settings_name_the_folder_and_are_recorded(tmp_path):
    roots = {"drive_root": tmp_path / "none", "kaggle_root": tmp_path / "none"}
    a = checkpoint_dir("03", tmp_path, settings={"learning_rate": 3e-5, "epochs": 2}, **roots)
    same = checkpoint_dir("03", tmp_path, settings={"epochs": 2, "learning_rate": 3e-5}, **roots)
    other = checkpoint_dir("03", tmp_path, settings={"learning_rate": 5e-5, "epochs": 2}, **roots)
    assert a == same != other
    assert re.fullmatch(r"checkpoints-[0-9a-f]{8}", a.name)
    assert json.loads((a / "course_settings.json").read_text()) == {"epochs": 2, "learning_rate": 3e-5}


@pytest.mark.parametrize("name", ["", "03/../..", None, "two words"])
def test_bad_name(name, tmp_path):
    with pytest.raises(CourseError, match=r"^Checkpoint name: expected a folder name of letters, digits, '\.', '_' "
                                          r"or '-', found .*\. Fix: pass the notebook's name"):
        checkpoint_dir(name, tmp_path)


# ---------------------------------------------------------------- which checkpoint is usable

def test_a_whole_checkpoint_passes_and_returns_its_state(tmp_path):
    path = save_checkpoint(tmp_path, 4)
    assert check_checkpoint(path) == {"global_step": 4, "max_steps": 8, "epoch": 1.0}


def test_every_problem_of_a_broken_checkpoint_is_reported_at_once(tmp_path):
    path = save_checkpoint(tmp_path, 6, weights=False, state=False)
    cut_short(path / "optimizer.pt")
    with pytest.raises(CourseError) as err:
        check_checkpoint(path)
    message = str(err.value)
    assert message.startswith("3 problems:\n")
    assert "Checkpoint checkpoint-6: expected a trainer_state.json (Trainer writes it last), found none: the save " \
           "was cut short. Fix: nothing to do: an earlier checkpoint is used" in message
    assert "expected model weights (one of model.safetensors" in message
    assert "found optimizer.pt is not a whole archive" in message


@pytest.mark.parametrize("damage", ["weights cut short", "weights header garbled", "state not json",
                                    "state without step", "rng cut short", "shard missing"])
def test_each_kind_of_damage_is_caught(tmp_path, damage):
    path = save_checkpoint(tmp_path, 2)
    if damage == "weights cut short":
        cut_short(path / "model.safetensors", keep=0.9)
        match = r"found model\.safetensors holds \d+ bytes, its header promises \d+"
    elif damage == "state not json":
        (path / "trainer_state.json").write_text('{"global_step": 2, "max_')
        match = "a trainer_state.json with a global_step, found a file that does not read as one"
    elif damage == "state without step":
        (path / "trainer_state.json").write_text("{}")
        match = "a trainer_state.json with a global_step"
    elif damage == "weights header garbled":
        data = (path / "model.safetensors").read_bytes()
        (path / "model.safetensors").write_bytes(data[:8] + b"x" * (len(data) - 8))
        match = "model.safetensors has no readable header"
    elif damage == "rng cut short":
        cut_short(path / "rng_state.pth")
        match = "rng_state.pth is not a whole archive"
    else:
        (path / "model.safetensors").rename(path / "model-00001-of-00002.safetensors")
        (path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
            "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
        match = "shard model-00002-of-00002.safetensors is missing"
    with pytest.raises(CourseError, match=match):
        check_checkpoint(path)


def test_last_checkpoint_is_transformers_choice_when_whole(tmp_path):
    from transformers.trainer_utils import get_last_checkpoint

    for step in (2, 10, 4):  # 10 after 4: by step number, not by name
        save_checkpoint(tmp_path, step, max_steps=12)
    (tmp_path / "checkpoint-notes").mkdir()  # not a checkpoint
    assert last_checkpoint(tmp_path) == tmp_path / "checkpoint-10" == type(tmp_path)(get_last_checkpoint(tmp_path))


def test_falls_back_past_unusable_checkpoints_and_deletes_nothing(tmp_path, capsys):
    save_checkpoint(tmp_path, 2)
    cut_short(save_checkpoint(tmp_path, 4) / "model.safetensors")
    save_checkpoint(tmp_path, 6, state=False)  # killed during the save
    before = listing(tmp_path)
    assert last_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Skipping checkpoint-6, it is unusable: Checkpoint checkpoint-6: expected a "
                             "trainer_state.json")
    assert out[1].startswith("Skipping checkpoint-4, it is unusable: Checkpoint checkpoint-4: expected complete")
    assert listing(tmp_path) == before


def test_nothing_usable_or_nothing_there(tmp_path, capsys):
    assert last_checkpoint(tmp_path / "missing") is None
    assert last_checkpoint(tmp_path) is None
    save_checkpoint(tmp_path, 2, weights=False)
    assert last_checkpoint(tmp_path) is None
    assert "Skipping checkpoint-2" in capsys.readouterr().out
    assert resume_from(tmp_path) is None
    assert capsys.readouterr().out.splitlines()[-1] == ("No usable checkpoint (those above are left as they are): "
                                                        "training from the start.")
    assert (tmp_path / "checkpoint-2" / "trainer_state.json").exists()


def test_a_file_instead_of_a_folder(tmp_path):
    (tmp_path / "checkpoints").write_text("not a folder")
    with pytest.raises(CourseError, match=r"^Checkpoint folder: expected a folder \(or nothing yet\), found a file "
                                          r"at .*checkpoints\. Fix: pass the TrainingArguments output_dir"):
        last_checkpoint(tmp_path / "checkpoints")


# ---------------------------------------------------------------- what resumes

def test_no_checkpoint_yet(tmp_path, capsys):
    assert resume_from(tmp_path) is None
    assert capsys.readouterr().out == "No checkpoint yet: training from the start.\n"


def test_resuming_mid_training_says_from_where(tmp_path, capsys):
    path = save_checkpoint(tmp_path, 6)
    os.utime(path / "trainer_state.json", (1_700_000_000, 1_700_000_000))
    assert resume_from(tmp_path) == str(path)
    out = capsys.readouterr().out
    assert re.fullmatch(r"Resuming from checkpoint-6 \(saved 2023-11-\d\d \d\d:\d\d, step 6 of 8\): weights, "
                        r"optimizer, scheduler and random state come back, and training goes on at step 7\.\n", out)


def test_a_finished_run_resumes_at_its_end(tmp_path, capsys):
    path = save_checkpoint(tmp_path, 8)
    assert resume_from(tmp_path) == str(path)
    assert "step 8 of 8): that run had finished, so no step is trained again." in capsys.readouterr().out


def test_a_finished_run_that_ended_mid_epoch_starts_over(tmp_path, capsys):
    save_checkpoint(tmp_path, 6, max_steps=6, epoch=1.5)  # transformers would resume it one step too far
    assert resume_from(tmp_path) is None
    assert "stopped mid-epoch (epoch 1.5)" in capsys.readouterr().out
    assert (tmp_path / "checkpoint-6").is_dir()


def test_trainer_resumes_from_what_resume_from_returns(tmp_path, capsys):
    """End to end with a real Trainer: a run cut after step 2 and resumed matches an unbroken run exactly."""
    import transformers

    torch.manual_seed(0)
    inputs, labels = torch.randn(32, 4), torch.randint(0, 2, (32,))

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer, self.dropout = torch.nn.Linear(4, 2), torch.nn.Dropout(0.3)  # dropout: random state matters

        def forward(self, x, labels=None):
            logits = self.layer(self.dropout(x))
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    data = [{"x": x, "labels": y} for x, y in zip(inputs, labels)]

    def train(folder, max_steps, resume=None):
        transformers.set_seed(1)
        args = transformers.TrainingArguments(folder, max_steps=max_steps, per_device_train_batch_size=8,
                                              num_train_epochs=2, save_strategy="steps", save_steps=2,
                                              report_to="none", disable_tqdm=True, use_cpu=True, learning_rate=0.1)
        trainer = transformers.Trainer(Tiny(), args, train_dataset=data)
        trainer.train(resume_from_checkpoint=resume)
        return trainer.model.layer.weight.detach().clone()

    unbroken = train(str(tmp_path / "unbroken"), 8)
    train(str(tmp_path / "cut" / "run"), 8)
    for step in (4, 6, 8):  # keep only checkpoint-2, as if the run had died after it
        shutil.rmtree(tmp_path / "cut" / "run" / f"checkpoint-{step}")
    resumed = train(str(tmp_path / "cut" / "run"), 8, resume_from(tmp_path / "cut" / "run"))
    assert "Resuming from checkpoint-2" in capsys.readouterr().out
    assert torch.equal(resumed, unbroken)
