"""What a training run will cost on a free Colab T4, estimated from the work it does, before it starts.

Time: training does about 6 x parameters FLOPs per token (forward and backward), evaluation 2 x, at the
throughput a T4 achieves fine-tuning BERT (``../shared/colab-kaggle.md``: 15-20 TFLOP/s in fp16, 4-5 in fp32).
Memory: fp32 weights, gradients and Adam's two moments (16 bytes a parameter) plus the activations a BERT layer
keeps for the backward pass (Korthikanti et al. 2022: s*b*h*(34 + 5*a*s/h) bytes a layer in 16-bit), plus the
CUDA context. Estimates, not measurements: the course's bar is that a default gpu run fits 45 minutes and 14 GB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

T4_TFLOPS = {"fp16": 17.5, "fp32": 4.5}  # achieved, not peak (peak fp16 is 65)
T4_MEMORY_GB = 15.0  # of 16 GB, what a process can use
LIMIT_MINUTES = 45.0  # the course's bar for one notebook's default gpu run
LIMIT_GB = 14.0
CUDA_CONTEXT_GB = 0.8


@dataclass(frozen=True)
class Estimate:
    """Minutes and peak GPU memory of one run on a T4."""

    minutes: float  # training and evaluation time
    memory_gb: float  # peak GPU memory while training
    train_tokens: int  # tokens the training pass processes (examples x length x epochs)
    eval_tokens: int  # tokens evaluation and prediction process
    parameters: int  # model parameters
    precision: str  # "fp16" or "fp32" (a T4 has no native bf16)

    @property
    def fits(self) -> bool:
        """True within the course's bar (45 minutes, 14 GB)."""
        return self.minutes <= LIMIT_MINUTES and self.memory_gb <= LIMIT_GB

    def __str__(self) -> str:
        verdict = "fits" if self.fits else f"EXCEEDS the {LIMIT_MINUTES:.0f} min / {LIMIT_GB:.0f} GB bar"
        return (f"T4 estimate ({self.precision}): about {self.minutes:.1f} min and {self.memory_gb:.1f} GB "
                f"for {self.parameters / 1e6:.0f}M parameters, {self.train_tokens / 1e6:.1f}M training and "
                f"{self.eval_tokens / 1e6:.1f}M evaluation tokens: {verdict}")


def _shape(model: Any) -> tuple[int, int, int, int]:
    """(parameters, layers, hidden size, attention heads) of a transformers model or its config."""
    config = getattr(model, "config", model)
    parameters = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else 110_000_000
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "num_layers", None) or \
        getattr(config, "n_layers", 12)
    layers += getattr(config, "num_decoder_layers", 0) or 0  # an encoder-decoder (t5) keeps both stacks' activations
    hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or getattr(config, "dim", 768)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "num_heads", None) or \
        getattr(config, "n_heads", 12)
    return parameters, layers, hidden, heads


def estimate(parameters: int, *, layers: int, hidden: int, heads: int, train_examples: int, seq_len: int,
             epochs: float, batch_size: int, eval_examples: int = 0, precision: str = "fp16") -> Estimate:
    """Estimate one run from the model's size and the work (see the module docstring for the rules).

    >>> e = estimate(110_000_000, layers=12, hidden=768, heads=12, train_examples=25_000, seq_len=256, epochs=2,
    ...              batch_size=32, eval_examples=25_000)
    >>> round(e.minutes, 1), round(e.memory_gb, 1), e.fits
    (9.4, 6.6, True)
    """
    train_tokens = int(train_examples * seq_len * epochs)
    eval_tokens = int(eval_examples * seq_len)
    flops = 6 * parameters * train_tokens + 2 * parameters * eval_tokens
    minutes = flops / (T4_TFLOPS[precision] * 1e12) / 60
    bytes_per_value = 1 if precision == "fp16" else 2  # the formula counts 16-bit values; fp32 doubles it
    activations = layers * seq_len * batch_size * hidden * (34 + 5 * heads * seq_len / hidden) * bytes_per_value
    memory = 16 * parameters + activations
    return Estimate(minutes, memory / 1e9 + CUDA_CONTEXT_GB, train_tokens, eval_tokens, parameters, precision)


def t4_estimate(model: Any, *, train_examples: int, seq_len: int, epochs: float, batch_size: int,
                eval_examples: int = 0, fp16_safe: bool = True) -> Estimate:
    """Estimate a run of ``model`` (a transformers model or config) on a T4 and print one line saying so."""
    parameters, layers, hidden, heads = _shape(model)
    result = estimate(parameters, layers=layers, hidden=hidden, heads=heads, train_examples=train_examples,
                      seq_len=seq_len, epochs=epochs, batch_size=batch_size, eval_examples=eval_examples,
                      precision="fp16" if fp16_safe else "fp32")
    print(result)
    return result
