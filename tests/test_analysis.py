"""Analyses: CCA with its in-sample inflation, t-SNE, classification probes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from rateprobe.analysis.cca import cca_scores, correlation
from rateprobe.analysis.classification import (
    above_chance,
    chance_macro_f1,
    classify,
    sex_labels,
    tercile_edges,
    tercile_labels,
)
from rateprobe.analysis.tsne import tsne_map
from rateprobe.bootstrap import SpeakerBootstrap, speaker_bootstrap
from rateprobe.features import Standardiser, gram_eigen
from rateprobe.metrics import macro_f1


def cca_of(
    train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, k: int
) -> dict:
    standardiser = Standardiser.fit(train)
    x_train, x_test = standardiser.transform(train), standardiser.transform(test)
    return cca_scores(gram_eigen(x_train, y_train), x_train, y_train, x_test, y_test, k)[0]


def test_in_sample_cca_is_inflated_to_one_on_pure_noise() -> None:
    # As many dimensions as training utterances: any target is fitted exactly in sample.
    rng = np.random.default_rng(0)
    scores = cca_of(
        rng.normal(size=(40, 40)),
        rng.normal(size=40),
        rng.normal(size=(200, 40)),
        rng.normal(size=200),
        k=4,
    )
    assert scores["in_sample"] == pytest.approx(1.0, abs=1e-6)
    assert abs(scores["heldout"]) < 0.3
    assert scores["in_sample_pca"] < 0.9
    assert scores["n_components"] == 4


def test_heldout_cca_finds_a_real_signal() -> None:
    rng = np.random.default_rng(1)
    latent = rng.normal(size=260)
    features = rng.normal(size=(260, 10)) * 0.5
    features[:, :3] += 3 * latent[:, None]  # the signal dominates the leading components
    y = latent + 0.1 * rng.normal(size=260)
    scores = cca_of(features[:200], y[:200], features[200:], y[200:], k=2)
    assert scores["heldout"] > 0.95
    assert scores["in_sample"] >= scores["in_sample_pca"] - 1e-12


def test_cca_equals_multiple_correlation_in_sample() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    design = np.c_[np.ones(50), x]
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    scores = cca_of(x, y, x, y, k=3)
    assert scores["in_sample"] == pytest.approx(correlation(fitted, y))
    assert scores["heldout"] == pytest.approx(scores["in_sample"])


def test_correlation_of_a_constant_is_none() -> None:
    assert correlation(np.ones(5), np.arange(5.0)) is None
    assert correlation(np.arange(5.0), 2 * np.arange(5.0) + 1) == pytest.approx(1.0)


def test_tsne_is_seeded_and_records_the_perplexity_used() -> None:
    points = np.random.default_rng(0).normal(size=(40, 5))
    first, second = tsne_map(points, 30.0, seed=3), tsne_map(points, 30.0, seed=3)
    np.testing.assert_array_equal(first["coords"], second["coords"])
    assert first["coords"].shape == (40, 2)
    assert first["perplexity_requested"] == 30.0
    assert first["perplexity"] == pytest.approx(13.0)  # (40 - 1) / 3: t-SNE needs it below n
    assert tsne_map(points, 5.0, seed=3)["perplexity"] == 5.0
    assert tsne_map(points[:3], 5.0, seed=0)["coords"] is None


def test_tercile_edges_come_from_train() -> None:
    edges = tercile_edges(np.arange(1.0, 10.0))
    np.testing.assert_allclose(edges, [11 / 3, 19 / 3])
    np.testing.assert_array_equal(tercile_labels(np.array([0.0, 5.0, 50.0]), edges), [0, 1, 2])


def test_chance_macro_f1() -> None:
    assert chance_macro_f1(np.array([10, 10, 10])) == pytest.approx(1 / 3)
    assert chance_macro_f1(np.array([5, 5])) == pytest.approx(0.5)
    # shares 0.8 / 0.2, guessing each half the time: F1 = 2*.8*.5/1.3 and 2*.2*.5/.7
    assert chance_macro_f1(np.array([8, 2, 0])) == pytest.approx((0.8 / 1.3 + 0.2 / 0.7) / 2)
    # Counts with leading axes give one chance value per row.
    rows = chance_macro_f1(np.array([[10, 10, 10], [8, 2, 0]]))
    np.testing.assert_allclose(rows, [1 / 3, (0.8 / 1.3 + 0.2 / 0.7) / 2])


def test_above_chance_subtracts_the_chance_of_each_resample() -> None:
    # Speakers a, b, c with two utterances each.
    true, predicted = np.array([0, 0, 1, 1, 1, 2]), np.array([0, 1, 1, 1, 0, 2])
    speaker_index = np.array([0, 0, 1, 1, 2, 2])
    counts = np.array([[2.0, 0.0, 1.0], [0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    boot = SpeakerBootstrap(np.array(["a", "b", "c"]), speaker_index, counts)
    estimate = above_chance(true, predicted, 3, boot)
    # F1 0.5, 2/3 and 1 -> macro 0.7222; shares 1/3, 1/2, 1/6 against guesses of 1/3 give
    # chance F1 1/3, 0.4 and 2/9 -> 0.3185.
    assert estimate.point == pytest.approx(13 / 18 - (1 / 3 + 0.4 + 2 / 9) / 3)

    def excess(weights: np.ndarray) -> float:
        t, p = (
            np.repeat(labels, weights[speaker_index].astype(int)) for labels in (true, predicted)
        )
        return macro_f1(t, p, 3) - float(chance_macro_f1(np.bincount(t, minlength=3)))

    np.testing.assert_allclose(estimate.draws, [excess(c) for c in counts])
    np.testing.assert_allclose(estimate.jackknife, [excess(1.0 - row) for row in np.eye(3)])


def test_sex_labels() -> None:
    np.testing.assert_array_equal(sex_labels(np.array(["F", "M", "", "nan"])), [0, 1, -1, -1])


def classification_data(rng: np.random.Generator, informative: bool) -> tuple[dict, dict]:
    features, labels = {}, {}
    for split, n in (("train", 120), ("dev", 60), ("test", 60)):
        labels[split] = rng.integers(0, 3, size=n)
        noise = rng.normal(size=(n, 4))
        features[split] = noise + (3.0 * np.eye(3, 4)[labels[split]] if informative else 0)
    return features, labels


def test_classification_finds_planted_classes_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    boot = speaker_bootstrap(np.repeat(np.arange(12), 5).astype(str), 100, seed=0)
    names = ("slow", "normal", "fast")
    planted = classify(*classification_data(rng, True), names, boot, seed=0)
    noise = classify(*classification_data(rng, False), names, boot, seed=0)
    assert planted["metrics"]["macro_f1"]["value"] > 0.85
    assert noise["metrics"]["macro_f1"]["value"] < 0.6
    assert planted["above_chance"]["ci_low"] > 0.3
    # No resample comes near chance: the least p 100 resamples give, 1 / 101.
    assert planted["above_chance"]["p_value"] == pytest.approx(1 / 101)
    assert noise["above_chance"]["ci_low"] < 0 < noise["above_chance"]["ci_high"]
    assert noise["above_chance"]["p_value"] > 0.05
    assert noise["above_chance"]["value"] == pytest.approx(
        noise["metrics"]["macro_f1"]["value"] - noise["chance_macro_f1"]
    )
    assert planted["C"] in (0.01, 0.1, 1.0, 10.0)
    assert sum(planted["test_class_counts"]) == 60


def test_dev_selection_uses_macro_f1_over_the_true_classes() -> None:
    rng = np.random.default_rng(1)
    features, labels = classification_data(rng, True)
    labels["dev"] = np.where(labels["dev"] == 2, -1, labels["dev"])  # dev lacks class 2
    boot = speaker_bootstrap(np.arange(60).astype(str), 10, seed=0)
    result = classify(features, labels, ("slow", "normal", "fast"), boot, seed=0)
    model = LogisticRegression(C=result["C"], max_iter=2000, random_state=0)
    model.fit(features["train"], labels["train"])
    known = labels["dev"] >= 0
    predicted = model.predict(features["dev"][known])
    assert result["dev_macro_f1"] == pytest.approx(macro_f1(labels["dev"][known], predicted, 3))
    # Predictions of class 2 would count as a third class with F1 0 in sklearn's default.
    assert result["dev_macro_f1"] > f1_score(labels["dev"][known], predicted, average="macro")


def test_classification_needs_two_classes() -> None:
    rng = np.random.default_rng(0)
    features, labels = classification_data(rng, True)
    labels["train"][:] = -1
    boot = speaker_bootstrap(np.arange(60).astype(str), 10, seed=0)
    result = classify(features, labels, ("F", "M", "x"), boot, seed=0)
    assert result == {"macro_f1": None, "macro_f1_reason": "fewer than two classes in train"}
