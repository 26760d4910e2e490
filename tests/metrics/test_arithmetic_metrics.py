import numpy as np
import pytest

from latentworks.metrics.arithmetic import error_bucket, parse_answer, score_answers


def test_exact_match_and_char_accuracy_differ():
    s = score_answers(["46 ", "-39", "99 "], ["46 ", "-38", "100"])
    assert s.exact_match == pytest.approx(1 / 3)
    assert s.char_accuracy == pytest.approx((3 + 2 + 0) / 9)
    assert s.abs_error == pytest.approx((0 + 1 + 1) / 3)
    assert s.error_histogram["0"] == 1 and s.error_histogram["1–9"] == 2


def test_unparsable_answers_are_counted_not_scored():
    s = score_answers(["4-6", "12 "], ["46 ", "10 "])
    assert s.parsable == 0.5
    assert s.abs_error == 2
    assert s.error_histogram["unreadable"] == 1


@pytest.mark.parametrize("text,value", [("46 ", 46), ("-39", -39), (" 7 ", 7), ("--1", None), ("   ", None)])
def test_parse_answer(text, value):
    assert parse_answer(text) == value


def test_error_buckets():
    assert [error_bucket(e) for e in (0, -3, 10, 250, 1000, None)] == [
        "0", "1–9", "10–99", "100–999", "≥1000", "unreadable"]


def test_glyph_reading_names_invented_classes_on_one_half_and_scores_the_other():
    from latentworks.metrics.arithmetic import glyph_reading

    labels = np.random.default_rng(0).integers(0, 10, 4000)
    eye = np.eye(16)
    permuted = eye[(labels * 7 + 3) % 10 + 2]  # a perfect reader whose classes are numbered its own way
    perfect = glyph_reading(permuted, labels)
    assert perfect == {"accuracy": 1.0, "centroid_accuracy": 1.0, "classes_used": 10, "digits_named": 10, "n": 2000}
    merged = eye[np.where(labels == 9, 4, labels)]  # 4 and 9 read as one class: about half of those are wrong
    score = glyph_reading(merged, labels)
    assert score["digits_named"] == 9 and 0.88 < score["accuracy"] < 0.97 and score["centroid_accuracy"] < 0.97
    # The same two digits told apart by how the mass splits between two classes: the top class merges them,
    # the distributions do not.
    mixed = eye[labels].copy()
    mixed[labels == 9] = 0.6 * eye[4] + 0.4 * eye[9]
    mixed[labels == 4] = 0.9 * eye[4] + 0.1 * eye[9]
    split = glyph_reading(mixed, labels)
    assert split["classes_used"] == 9 and split["accuracy"] < 0.97 and split["centroid_accuracy"] == 1.0
    noise = np.random.default_rng(1).dirichlet(np.ones(16), 4000)
    assert glyph_reading(noise, labels)["accuracy"] < 0.2 and glyph_reading(noise, labels)["centroid_accuracy"] < 0.2
