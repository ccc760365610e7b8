"""tools/bench.py (``make bench``): every piece of the quick run on tiny inputs, offline, in a temporary folder.

The numbers are the machine's, so nothing here asserts on a speed: only on the report's shape and that what was
measured is a positive number.
"""

import json

import bench  # tools/ is on sys.path (conftest.py)
import pytest


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    records = folder / "build"
    (records / "test-runs").mkdir(parents=True)
    (records / "test-runs" / "timings.jsonl").write_text(
        '{"notebook": "06_finetune_imdb", "wall_s": 10.0}\n{"notebook": "06_finetune_imdb", "wall_s": 14.0}\n'
        '{"notebook": "06_finetune_imdb", "wall_s": 99.0, "parameters": {"epochs": 3}}\n')
    (records / "results.json").write_text(json.dumps([{"notebook": "06_finetune_imdb", "status": "ok", "wall_s": 181.0,
                                                       "profile": "cpu", "metrics": {"accuracy": 0.861}}]))
    saved = bench.LEVERS
    # 1 thread, one OMP_WAIT_POLICY, torch.compile (skipped), attention dropout 0
    bench.LEVERS = [saved[0], saved[2], saved[4], saved[5]]
    try:
        cfg = bench.Config.quick(profile="tiny", out=folder / "out", records=records, budget_s=2.0,
                                 naive_budget_s=3.0, probe_n=128, val_n=8, test_n=8, train_pool=24,
                                 deadline_s=1e9)  # no lever skipped
        yield bench.run_bench(cfg, log=lambda *a: None)
    finally:
        bench.LEVERS = saved


def test_the_report_files_are_written(report):
    out = bench.Path(report["config"]["out"])
    assert json.loads((out / "report.json").read_text())["mode"] == "quick"
    text = (out / "report.md").read_text()
    for heading in ("## Machine", "## Training recipes on IMDb", "**Bars**", "## Inference", "## CPU levers",
                    "## The course's notebooks", "## GPU: T4 estimates (not measurements)"):
        assert heading in text
    assert (out / "training.png").stat().st_size > 0


def test_the_machine_and_the_probe(report):
    m = report["machine"]
    assert m["cores"] >= 1 and m["torch_threads"] >= 1 and m["torch"] and m["cpu_model"]
    assert len(m["load_average_start"]) == 3 and len(m["load_average_end"]) == 3
    assert report["matmul_probe"]["gflops_best"] > 0


def test_both_recipes_measured_side_by_side(report):
    recipes = report["training"]["recipes"]
    assert set(recipes) == {"naive", "course"}
    assert recipes["naive"]["padding"] == "max_length 512" and not recipes["naive"]["length_grouping"]
    assert recipes["course"]["length_grouping"]
    for r in recipes.values():
        for key in ("samples_per_s", "tokens_per_s", "useful_tokens_per_s", "gflops", "peak_fraction"):
            assert r[key] > 0, key
        assert r["curve"] and 0 <= r["final_accuracy"] <= 1
        assert r["curve"][0]["train_seconds"] == 0 and r["curve"][0]["samples"] == 0, "the untrained start"
    assert recipes["course"]["train_seconds"] >= 2.0 and recipes["naive"]["train_seconds"] >= 3.0, "own budgets"
    assert recipes["course"]["pad_share"] < recipes["naive"]["pad_share"], "the naive recipe pads to 512"
    bars = report["training"]["bars"]
    assert bars["speedup_samples_per_s"] > 0 and isinstance(bars["speedup_met"], bool)
    assert set(bars["seconds_to_80"]) == {"naive", "course"}
    assert isinstance(bars["naive_learned"], bool) and not (bars["time_met"] and not bars["naive_learned"])


def test_reaching_an_accuracy_that_needs_no_training_is_not_a_bar_met():
    def recipe(*points):
        return {"samples_per_s": 1.0, "final_accuracy": points[-1][1],
                "curve": [{"train_seconds": s, "accuracy": a} for s, a in points]}
    chance = bench.bars({"naive": recipe((0, 0.50), (40, 0.52), (150, 0.52)),
                         "course": recipe((0, 0.50), (10, 0.60), (150, 0.85))}, val_n=200)
    assert not chance["naive_learned"] and not chance["time_met"], "0.52 is within two standard errors of 0.50"
    real = bench.bars({"naive": recipe((0, 0.50), (300, 0.70), (450, 0.72)),
                       "course": recipe((0, 0.50), (10, 0.60), (19, 0.74), (150, 0.85))}, val_n=200)
    assert real["naive_learned"] and real["naive_seconds_to_it"] == 450 and real["course_seconds_to_it"] == 19
    assert real["time_met"] and real["time_ratio"] == 19 / 450
    slow = bench.bars({"naive": recipe((0, 0.50), (300, 0.70), (450, 0.72)),
                       "course": recipe((0, 0.50), (160, 0.72))}, val_n=200)
    assert slow["naive_learned"] and not slow["time_met"], "160 s is more than a third of 450 s"


def test_inference_fp32_and_int8(report):
    inf = report["inference"]
    assert inf["fp32"]["samples_per_s"] > 0 and inf["int8"]["samples_per_s"] > 0
    assert inf["int8_kept"] == (inf["accuracy_drop_points"] <= 1.0)


def test_cpu_levers_each_in_its_own_process(report):
    rows = {r["setting"]: r for r in report["levers"]}
    assert rows["1 thread"]["status"] == "ok" and rows["1 thread"]["threads"] == 1
    assert rows["2 threads, OMP_WAIT_POLICY=PASSIVE"]["omp_wait_policy"] == "PASSIVE"
    assert all(rows[s]["train_samples_per_s"] > 0 for s in rows if rows[s]["status"] == "ok")
    assert rows["2 threads, torch.compile"]["status"].startswith("not measured")
    no_dropout = rows["2 threads, attention dropout 0 (the cpu profile's)"]
    assert no_dropout["status"] == "ok" and no_dropout["attention_dropout"] == 0.0
    assert rows["1 thread"]["attention_dropout"] > 0, "the other settings keep the checkpoint's attention dropout"


def test_the_course_section_reads_the_records(report):
    row = next(r for r in report["course"]["rows"] if r["notebook"] == "06_finetune_imdb")
    assert row["tiny_median_s"] == 12.0, "runs with other parameters are left out"
    assert row["cpu_s"] == 181.0 and row["cpu_headline"] == "accuracy 0.861"
    assert any(r["cpu_s"] is None for r in report["course"]["rows"]), "a notebook make run did not reach"


def test_gpu_estimates_come_from_the_headers(report):
    rows = {r["notebook"]: r for r in report["gpu_estimates"]}
    assert rows["06_finetune_imdb"]["t4_minutes"] > 0
    assert "bert-base" in rows["06_finetune_imdb"]["setting"]
