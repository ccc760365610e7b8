"""course_utils.pictures: each concept picture draws what it claims, from the caller's data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from course_utils import pictures  # noqa: E402


def test_encoder_decoder_draws_one_cross_attention_arrow_per_source_token():
    fig = pictures.encoder_decoder(["the", "bank", "raised", "rates"], ["rates", "rise"], attend_from=1)
    ax = fig.axes[0]
    arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    assert len(arrows) == 4 + 1  # to every source token, and back to the one earlier target token
    assert "Decoder step 2 ('rise')" in ax.get_title()
    plt.close(fig)


def test_padding_grid_counts_the_positions_each_layout_computes():
    fig = pictures.padding_grid([10, 2, 9, 3], max_length=12, batch_size=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert "48 positions computed, 50% real" in titles[0]  # 4 x 12, 24 real tokens
    assert "38 positions computed, 63% real" in titles[1]  # batches (10, 2) and (9, 3): 2 x 10 + 2 x 9
    assert "26 positions computed, 92% real" in titles[2]  # grouped (10, 9) and (3, 2): 2 x 10 + 2 x 3
    plt.close(fig)


def test_reliability_explained_reports_the_ece_of_its_bars():
    fig = pictures.reliability_explained(seed=0)
    ax = fig.axes[0]
    heights = np.array([p.get_height() for p in ax.patches[:5]])  # the accuracy bars
    centres = np.linspace(0.55, 0.95, 5)
    assert (heights < centres).all()  # over-confident: every bar below the diagonal
    ece = float(ax.get_title().rsplit("= ", 1)[1])
    assert abs(ece - 0.075) < 0.01  # the simulated gap is 0.3 (c - 0.5), c uniform on [0.5, 1]: mean 0.075
    plt.close(fig)
