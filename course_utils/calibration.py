"""Is a classifier's confidence honest? Reliability tables, expected calibration error, temperature scaling.

A model is *calibrated* when, among the predictions it makes with 80% confidence, about 80% are right. Fine-tuned
transformers are often over-confident (Guo et al. 2017, "On Calibration of Modern Neural Networks"); dividing the
logits by one temperature T > 1, fitted on held-out data, usually fixes most of it without changing any prediction.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .errors import CourseError, problem


def _check(probs: Any, labels: Sequence[int], n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    try:
        p, y = np.asarray(probs, dtype=float), np.asarray(labels)
    except (TypeError, ValueError) as err:  # text, or rows of different lengths
        raise CourseError(problem("Calibration inputs", "a (examples, classes) array of numbers",
                                  f"{type(err).__name__}: {err}"[:120],
                                  "pass softmax(logits) as an array: cu.training.softmax(predictions.predictions)"
                                  )) from None
    if p.ndim != 2 or len(p) != len(y) or len(y) == 0:
        raise CourseError(problem(
            "Calibration inputs", "probabilities of shape (examples, classes) and one label per example",
            f"probabilities of shape {p.shape} and {len(y)} labels",
            "pass softmax(logits) for the same examples as the labels"))
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise CourseError(problem(
            "Calibration inputs", "probability rows (non-negative, each summing to 1)",
            f"rows summing to {p.sum(axis=1).min():.3g}..{p.sum(axis=1).max():.3g}, smallest value {p.min():.3g}",
            "apply a softmax to the logits first: cu.training.softmax(logits)"))
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= p.shape[1]:
        raise CourseError(problem(
            "Calibration labels", f"class ids 0..{p.shape[1] - 1} (one per probability column)",
            f"{sorted({v for v in y.tolist() if not isinstance(v, int) or not 0 <= v < p.shape[1]}, key=str)[:5]}",
            "pass the integer labels of the same examples (label2id to turn names into ids)"))
    if not isinstance(n_bins, numbers.Integral) or isinstance(n_bins, bool) or n_bins < 1:
        raise CourseError(problem("n_bins", "a whole number of confidence bins, at least 1", repr(n_bins),
                                  "pass n_bins=10 (the usual choice)"))
    return p, y


def reliability_table(probs: Any, labels: Sequence[int], n_bins: int = 10) -> list[dict[str, float]]:
    """Confidence bins of equal width on [0, 1]: examples, mean confidence and accuracy per non-empty bin.

    Confidence is the probability of the predicted class; a bin holds confidences in (low, high], the first
    bin also 0.
    """
    p, y = _check(probs, labels, n_bins)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    return [{"low": float(edges[b]), "high": float(edges[b + 1]), "count": int((bins == b).sum()),
             "confidence": float(confidence[bins == b].mean()), "accuracy": float(correct[bins == b].mean())}
            for b in range(n_bins) if (bins == b).any()]


def expected_calibration_error(probs: Any, labels: Sequence[int], n_bins: int = 10) -> float:
    """ECE: the gap |accuracy - confidence| of each bin, weighted by the bin's share of examples.

    >>> round(expected_calibration_error([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], n_bins=5), 4)
    0.2
    """
    rows = reliability_table(probs, labels, n_bins)
    total = sum(r["count"] for r in rows)
    return float(sum(r["count"] / total * abs(r["accuracy"] - r["confidence"]) for r in rows))


def nll(logits: Any, labels: Sequence[int], temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (log loss) of ``softmax(logits / temperature)``."""
    from scipy.special import log_softmax

    log_probs = log_softmax(np.asarray(logits, dtype=float) / temperature, axis=-1)
    return float(-log_probs[np.arange(len(log_probs)), np.asarray(labels)].mean())


def fit_temperature(logits: Any, labels: Sequence[int], bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature T minimising the log loss of ``softmax(logits / T)`` on held-out data (never the test set)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import softmax

    z = np.asarray(logits, dtype=float)
    _check(softmax(z, axis=-1) if z.ndim == 2 else z, labels)
    result = minimize_scalar(lambda log_t: nll(z, labels, float(np.exp(log_t))), method="bounded",
                             bounds=(np.log(bounds[0]), np.log(bounds[1])))
    return float(np.exp(result.x))


def plot_reliability(probs: Any, labels: Sequence[int], n_bins: int = 10, label: str = "model", ax=None):
    """Reliability diagram: accuracy against confidence per bin; the diagonal is perfect calibration."""
    import matplotlib.pyplot as plt

    rows = reliability_table(probs, labels, n_bins)
    ax = ax or plt.subplots(figsize=(5, 5))[1]
    ax.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
    ece = expected_calibration_error(probs, labels, n_bins)
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", label=f"{label} (ECE {ece:.3f})")
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("accuracy in the bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return ax
