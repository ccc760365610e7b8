"""course_utils.budget: T4 estimates from FLOPs and memory rules, checked by hand on bert-base."""

import pytest

from course_utils import budget


def test_bert_base_imdb_by_hand():
    # 6 * 110e6 params * (25,000 * 256 * 2) tokens + 2 * 110e6 * (25,000 * 256) = 9.856e15 FLOPs at 17.5 TFLOP/s
    e = budget.estimate(110_000_000, layers=12, hidden=768, heads=12, train_examples=25_000, seq_len=256, epochs=2,
                        batch_size=32, eval_examples=25_000)
    assert e.minutes == pytest.approx(9.856e15 / 17.5e12 / 60)
    # 16 B/param + 12 layers * 256 * 32 * 768 * (34 + 5*12*256/768) B + 0.8 GB context
    assert e.memory_gb == pytest.approx((16 * 110e6 + 12 * 256 * 32 * 768 * 54) / 1e9 + 0.8)
    assert e.fits and "fits" in str(e)


def test_fp32_is_slower_and_bigger():
    kw = dict(layers=12, hidden=768, heads=12, train_examples=10_000, seq_len=384, epochs=2, batch_size=32)
    fp16, fp32 = budget.estimate(110_000_000, **kw), budget.estimate(110_000_000, precision="fp32", **kw)
    assert fp32.minutes == pytest.approx(fp16.minutes * 17.5 / 4.5)
    assert fp32.memory_gb > fp16.memory_gb


def test_too_much_work_is_flagged():
    e = budget.estimate(110_000_000, layers=12, hidden=768, heads=12, train_examples=87_599 * 2, seq_len=384,
                        epochs=3, batch_size=32)
    assert not e.fits and "EXCEEDS" in str(e)


def test_reads_a_model(capsys):
    import transformers

    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    model = transformers.BertModel(config)
    e = budget.t4_estimate(model, train_examples=100, seq_len=64, epochs=1, batch_size=8)
    assert e.parameters == sum(p.numel() for p in model.parameters())
    assert "T4 estimate (fp16)" in capsys.readouterr().out
