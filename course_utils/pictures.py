"""Concept pictures the notebooks draw where words are weak (drawn by code, so they never go stale).

Each function draws one idea with matplotlib and returns the figure; the data comes from the caller, so a
picture shows the notebook's own examples, not a made-up one.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _boxes(ax: Any, tokens: Sequence[str], y: float, color: str) -> list[float]:
    """Draw one row of token boxes at height ``y``; return their x centres."""
    xs = list(np.arange(len(tokens)) * 1.15)
    for x, token in zip(xs, tokens):
        ax.add_patch(_rectangle((x - 0.5, y - 0.3), 1.0, 0.6, color))
        ax.text(x, y, token, ha="center", va="center", fontsize=8)
    return xs


def _rectangle(xy: tuple[float, float], width: float, height: float, color: str) -> Any:
    from matplotlib.patches import FancyBboxPatch
    return FancyBboxPatch(xy, width, height, boxstyle="round,pad=0.02", facecolor=color, edgecolor="grey")


def encoder_decoder(source: Sequence[str], target: Sequence[str], attend_from: int = -1) -> Any:
    """An encoder-decoder: the encoder reads every source token at once (self-attention both ways); the decoder
    writes the target one token at a time, each step attending to its own past and, by **cross-attention**, to
    every encoder state. The lines show the cross-attention of decoder step ``attend_from``.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * max(len(source), len(target))), 3.4))
    enc = _boxes(ax, source, 0.0, "#cfe2f3")
    dec = _boxes(ax, target, 2.0, "#fce5cd")
    step = range(len(target))[attend_from]
    for x in enc:
        ax.annotate("", xy=(x, 0.32), xytext=(dec[step], 1.68),
                    arrowprops={"arrowstyle": "->", "color": "#cc4125", "alpha": 0.7})
    for x in dec[:step]:
        ax.annotate("", xy=(x, 2.35), xytext=(dec[step], 2.35),
                    arrowprops={"arrowstyle": "->", "color": "grey", "connectionstyle": "arc3,rad=-0.4"})
    ax.text(-0.6, 0.0, "encoder\n(reads the article)", ha="right", va="center", fontsize=9)
    ax.text(-0.6, 2.0, "decoder\n(writes the summary)", ha="right", va="center", fontsize=9)
    right = max(enc[-1], dec[-1]) + 0.7
    ax.text(right, 1.0, "cross-attention:\nlooks at every\nencoder state", ha="left", va="center",
            fontsize=8, color="#cc4125")
    ax.set_xlim(-4.0, right + 2.2)
    ax.set_ylim(-0.6, 3.0)
    ax.axis("off")
    ax.set_title(f"Decoder step {step + 1} ({target[step]!r}): its own past (grey) and the whole source (red)")
    fig.tight_layout()
    return fig


def padding_grid(lengths: Sequence[int], max_length: int, batch_size: int) -> Any:
    """Real tokens (dark) and padding (light) for the same texts padded to ``max_length`` and padded per batch to
    the batch's longest (dynamic padding), left; and again with similar lengths grouped into batches, right."""
    import matplotlib.pyplot as plt

    lengths = [min(int(n), max_length) for n in lengths]
    grouped = sorted(lengths, reverse=True)
    layouts = {"padding to max_length": (lengths, False), "dynamic padding": (lengths, True),
               "dynamic padding + length grouping": (grouped, True)}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
    for ax, (title, (rows, dynamic)) in zip(axes, layouts.items()):
        grid = np.zeros((len(rows), max_length))
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            width = max(batch) if dynamic else max_length
            for i, n in enumerate(batch):
                grid[start + i, :n], grid[start + i, n:width] = 2, 1  # 2 real token, 1 pad, 0 nothing computed
        ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=2, interpolation="nearest")
        for start in range(batch_size, len(rows), batch_size):
            ax.axhline(start - 0.5, color="black", linewidth=1)
        computed = (grid > 0).sum()
        ax.set_title(f"{title}\n{computed:,} positions computed, {(grid == 2).sum() / computed:.0%} real", fontsize=9)
        ax.set_xlabel("token position")
    axes[0].set_ylabel(f"text (batches of {batch_size})")
    fig.tight_layout()
    return fig


def reliability_explained(seed: int = 0) -> Any:
    """How to read a reliability diagram, on a simulated over-confident model: predictions binned by confidence,
    each bar the bin's accuracy, the diagonal perfect calibration, the red gaps what ECE averages."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.5, 1.0, 4000)
    correct = rng.uniform(size=confidence.size) < 0.5 + 0.7 * (confidence - 0.5)  # right less often than it claims
    edges = np.linspace(0.5, 1.0, 6)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, len(edges) - 2)
    centres = (edges[:-1] + edges[1:]) / 2
    accuracy = np.array([correct[which == b].mean() for b in range(len(centres))])
    share = np.array([(which == b).mean() for b in range(len(centres))])
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.bar(centres, accuracy, width=0.1, edgecolor="black", color="#9fc5e8", label="accuracy in the bin")
    ax.bar(centres, centres - accuracy, bottom=accuracy, width=0.1, color="#ea9999", alpha=0.8,
           label="gap = confidence - accuracy")
    ax.plot([0.5, 1.0], [0.5, 1.0], "k--", label="perfect calibration")
    ece = float(np.sum(share * np.abs(centres - accuracy)))
    ax.set(xlabel="confidence (the model's top probability)", ylabel="accuracy", xlim=(0.45, 1.02), ylim=(0.3, 1.02),
           title=f"An over-confident model: bars under the diagonal\nECE = share-weighted mean gap = {ece:.3f}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
