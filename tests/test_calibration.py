import math

import numpy as np
import pytest

from course_utils.calibration import (expected_calibration_error, fit_temperature, nll, plot_reliability,
                                      reliability_table)
from course_utils.errors import CourseError

# Hand-made case, 10 bins of width 0.1:
#   confidences 0.95 (right), 0.92 (wrong)  -> bin (0.9, 1.0]: confidence 0.935, accuracy 0.5
#               0.65 (right), 0.62 (right), 0.55 (wrong) -> bins (0.6, 0.7] and (0.5, 0.6]
PROBS = [[0.95, 0.05], [0.08, 0.92], [0.65, 0.35], [0.38, 0.62], [0.55, 0.45]]
LABELS = [0, 0, 0, 1, 1]


def test_reliability_table_by_hand():
    rows = reliability_table(PROBS, LABELS)
    assert [(r["low"], r["count"]) for r in rows] == [(pytest.approx(0.5), 1), (pytest.approx(0.6), 2),
                                                      (pytest.approx(0.9), 2)]
    assert rows[1]["confidence"] == pytest.approx(0.635) and rows[1]["accuracy"] == 1.0
    assert rows[2]["confidence"] == pytest.approx(0.935) and rows[2]["accuracy"] == 0.5


def test_ece_by_hand():
    # (1/5)|0 - 0.55| + (2/5)|1 - 0.635| + (2/5)|0.5 - 0.935| = 0.11 + 0.146 + 0.174 = 0.43
    assert expected_calibration_error(PROBS, LABELS) == pytest.approx(0.43)
    # a perfectly calibrated toy: confidence 0.75, three of four right
    assert expected_calibration_error([[0.75, 0.25]] * 4, [0, 0, 0, 1]) == pytest.approx(0.0)


def test_ece_matches_sklearn_calibration_curve():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(0)
    p1 = rng.uniform(0.5, 1.0, 500)  # class 1 always predicted, so confidence = p1 and "right" = (y == 1)
    y = (rng.uniform(0, 1, 500) < p1 - 0.1).astype(int)  # over-confident by 0.1 on average
    frac, mean = calibration_curve(y, p1, n_bins=10, strategy="uniform")
    counts = np.histogram(p1, bins=np.linspace(0, 1, 11))[0]
    counts = counts[counts > 0]
    reference = float(np.sum(counts / counts.sum() * np.abs(frac - mean)))
    ece = expected_calibration_error(np.stack([1 - p1, p1], axis=1), y)
    assert ece == pytest.approx(reference, abs=1e-12)
    assert 0.05 < ece < 0.15


def test_temperature_by_hand():
    logits = np.array([[3.0, 0.0], [0.0, 3.0], [3.0, 0.0], [0.0, 3.0]])
    labels = [0, 1, 1, 1]  # three of four right: the best confidence is 0.75, i.e. 3 / T = ln 3
    assert fit_temperature(logits, labels) == pytest.approx(3 / math.log(3), rel=1e-4)
    assert nll(logits, labels, 3 / math.log(3)) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert nll(logits, labels) == pytest.approx(nll(logits / 2, labels, 0.5))


def test_plot_reliability_labels_ece():
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_reliability(PROBS, LABELS, label="toy")
    assert "toy (ECE 0.430)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_errors():
    with pytest.raises(CourseError, match=r"probabilities of shape \(examples, classes\).*found probabilities of "
                                          r"shape \(2,\) and 2 labels"):
        expected_calibration_error([0.2, 0.8], [0, 1])
    with pytest.raises(CourseError, match=r"probability rows.*found rows summing to 3..3.*apply a softmax"):
        reliability_table([[1.0, 2.0]], [0])
    with pytest.raises(CourseError, match=r"found probabilities of shape \(1, 2\) and 2 labels"):
        fit_temperature([[1.0, 2.0]], [0, 1])
