"""Patient-level bootstrap of the benches (bench/_bootstrap.py) on known answers."""

import math

import numpy as np
import pytest

from _bootstrap import Interval, PatientSums, patient_sums, ratio_ci


def _ones(values: np.ndarray) -> PatientSums:
    return PatientSums(np.asarray(values, dtype=float), np.ones(len(values)))


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_constant_figure_has_a_point_interval(method: str) -> None:
    ci = ratio_ci(_ones(np.full(12, 0.7)), method=method, n_resamples=200)
    assert ci.value == pytest.approx(0.7)
    assert (ci.low, ci.high) == (ci.value, ci.value)


def test_mean_of_a_known_normal_sample_is_covered_and_width_shrinks_as_one_over_root_n() -> None:
    rng = np.random.default_rng(1)
    covered, widths = 0, []
    for trial in range(20):
        sample = rng.normal(5.0, 2.0, size=100)
        ci = ratio_ci(_ones(sample), n_resamples=500, seed=trial)
        covered += ci.low <= 5.0 <= ci.high
        widths.append(ci.high - ci.low)
    assert covered >= 16  # 95 % nominal coverage: 19 of 20 expected, 16 is p < 0.02 under the nominal rate
    assert np.mean(widths) == pytest.approx(2 * 1.96 * 2.0 / 10.0, rel=0.15)


def test_paired_difference_of_identical_models_is_exactly_zero() -> None:
    sums = _ones(np.random.default_rng(0).uniform(0.8, 1.0, size=30))
    ci = ratio_ci(sums, sums)
    assert (ci.value, ci.low, ci.high) == (0.0, 0.0, 0.0)
    assert not ci.excludes_zero()


def test_paired_difference_uses_the_same_patients_for_both_models() -> None:
    # model B = model A − 0.05 on every patient: the paired difference is 0.05 whatever is resampled,
    # whereas an unpaired interval of the difference would be as wide as the spread between patients
    a = np.random.default_rng(2).uniform(0.5, 1.0, size=25)
    ci = ratio_ci(_ones(a), _ones(a - 0.05))
    assert ci.low == pytest.approx(0.05) and ci.high == pytest.approx(0.05)
    assert ci.excludes_zero()


def test_ratio_is_a_mean_over_items_pooled_across_patients() -> None:
    # patient a: 3 images of Dice 0.9, b: 1 image of 0.5; the image mean is 0.8, not the patient mean 0.7
    sums = patient_sums(["a", "b"], [("a", 0.9), ("a", 0.9), ("a", 0.9), ("b", 0.5), ("b", math.nan)])
    assert sums.value() == pytest.approx(0.8)
    assert list(sums.den) == [3.0, 1.0]


def test_same_seed_same_interval_and_too_few_patients_give_nan() -> None:
    sums = _ones(np.random.default_rng(3).normal(size=15))
    assert ratio_ci(sums, seed=4) == ratio_ci(sums, seed=4)
    one = ratio_ci(_ones(np.array([1.0])))
    assert one.value == 1.0 and math.isnan(one.low) and one.text() == "1.000 [-]"


def test_text_and_excludes_zero() -> None:
    ci = Interval(0.1234, 0.05, 0.2, 10, "BCa")
    assert ci.text(3) == "0.123 [0.050, 0.200]"
    assert ci.text(1, scale=100) == "12.3 [5.0, 20.0]"
    assert ci.excludes_zero() and not Interval(0.1, -0.1, 0.2, 10, "BCa").excludes_zero()


def test_resamples_without_the_group_fall_back_to_the_percentile_of_the_others() -> None:
    # 2 of 6 patients have images of the group (e.g. Poor): (4/6)^6 ≈ 9 % of the resamples draw none
    den = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    sums = PatientSums(np.array([0.8, 0.9, 0.0, 0.0, 0.0, 0.0]), den)
    ci = ratio_ci(sums)
    assert ci.method == "percentile (defined resamples)" and 0.8 <= ci.low < ci.high <= 0.9
    rare = PatientSums(np.array([0.8, 0, 0, 0, 0, 0]), np.array([1.0, 0, 0, 0, 0, 0]))  # (5/6)^6 ≈ 33 %
    assert math.isnan(ratio_ci(rare).low)
