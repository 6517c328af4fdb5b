"""Known-answer tests of ED/ES detection on analytic LV area curves."""

from __future__ import annotations

import numpy as np
import pytest

from lunet.inference.sequence_phases import (
    beat_period,
    common_phase_grid,
    detect_phases,
    frame_phases,
    hampel_outliers,
)


def _half(n: int = 18) -> np.ndarray:
    """ED → ES half cycle: area falls as a half cosine from 1500 to 900 mm²."""
    t = np.linspace(0.0, 1.0, n)
    return 900.0 + 600.0 * 0.5 * (1.0 + np.cos(np.pi * t))


def _cycles(periods: list[int], start: int = 4) -> tuple[np.ndarray, list[int], list[int]]:
    """Beats of different lengths; returns the curve and the true ED (maxima) and ES (minima) frames."""
    curve, eds, ess = [], [], []
    for period in periods:
        k = np.arange(period)
        eds.append(len(curve))
        ess.append(len(curve) + period // 2)
        curve.extend(1200.0 + 300.0 * np.cos(2 * np.pi * k / period))
    eds.append(len(curve))
    curve.extend(1200.0 + 300.0 * np.cos(2 * np.pi * np.arange(6) / periods[-1]))
    curve = np.asarray(curve)[start:]
    shift = lambda frames: [f - start for f in frames if 0 < f - start < curve.size - 1]  # noqa: E731
    return curve, shift(eds), shift(ess)


def test_half_sequence_gives_the_true_frames_both_ways():
    curve = _half()
    forward = detect_phases(curve, kind="auto")
    assert (forward.ed_frames, forward.es_frames, forward.kind) == ((0,), (17,), "half")
    assert forward.direction == "ED→ES"
    backward = detect_phases(curve[::-1], kind="auto")
    assert (backward.ed_frames, backward.es_frames) == ((17,), (0,))
    assert backward.direction == "ES→ED"
    # the reversal maps one answer onto the other
    assert 17 - backward.ed_frames[0] == forward.ed_frames[0]


def test_noise_does_not_move_ed_es_far_and_one_corrupted_frame_is_flagged():
    rng = np.random.default_rng(0)
    curve = _half(20) + rng.normal(0.0, 10.0, 20)
    curve[7] = 0.0  # a blank frame
    curve[12] = 4000.0  # a frame of noise segmented as a huge LV
    phases = detect_phases(curve, kind="half")
    assert 7 in phases.flagged and 12 in phases.flagged
    assert phases.ed_frames == (0,) and phases.es_frames[0] >= 18
    assert phases.smoothed[12] < 1600.0


def test_corrupted_frame_at_the_true_es_is_never_chosen():
    curve = _half(15)
    curve[-1] = 100.0
    phases = detect_phases(curve, kind="half", sigma=0.0)
    assert phases.flagged == (14,)
    assert phases.es_frames == (13,)


def test_hampel_keeps_a_clean_monotone_curve():
    assert not hampel_outliers(_half(30)).any()
    assert not hampel_outliers(_cycles([20, 22, 19])[0]).any()


def test_multi_beat_cycle_gives_one_ed_and_es_per_beat():
    curve, eds, ess = _cycles([20, 23, 18, 21])
    phases = detect_phases(curve, kind="auto")
    assert phases.kind == "cycle"
    assert list(phases.ed_frames) == eds
    assert list(phases.es_frames) == ess
    assert beat_period(curve) == pytest.approx(20.5, abs=2.5)


def test_frame_phases_and_common_grid_align_two_views():
    a = detect_phases(_half(12))
    b = detect_phases(_half(20)[::-1])  # stored ES → ED
    pa, pb = frame_phases(12, a), frame_phases(20, b)
    assert pa[0] == 0.0 and pa[-1] == 0.5 and pb[0] == 0.5 and pb[-1] == 0.0
    grid, fa, fb = common_phase_grid(pa, pb)
    assert grid.size == 20 and grid[0] == 0.0 and grid[-1] == 0.5
    assert (fa[0], fb[0]) == (0, 19) and (fa[-1], fb[-1]) == (11, 0)


def test_bad_kind_is_refused():
    with pytest.raises(ValueError, match="unknown sequence kind"):
        detect_phases(_half(), kind="beats")


def test_phantom_half_sequences_give_ed_es_at_the_true_frames():
    from lunet.data.synthetic import PhantomOptions, render_patient
    from lunet.inference.sequence import lv_area_curve

    patient = render_patient(3, seed=0, size="256", options=PhantomOptions(intermediate_frames=10))
    for view in patient.views.values():
        area = lv_area_curve(view.frame_labels, view.spacing)  # the phantom's truth, ED → ES
        n = len(area)
        assert n == 12
        phases = detect_phases(area, kind="half")
        assert (phases.ed_frames, phases.es_frames, phases.flagged) == ((0,), (n - 1,), ())
        stored = detect_phases(area[::-1], kind="half")  # as written when the file runs ES → ED
        assert (stored.ed_frames, stored.es_frames) == ((n - 1,), (0,))


@pytest.mark.parametrize("areas", [[1352.0, 2115.0, 2533.0], [2533.0, 2115.0, 1352.0, 1300.0]])
def test_short_half_sequence_end_frames_are_not_taken_for_corrupted(areas):
    """A 3–4 frame half sequence (the phantom's default) changes steeply: its end frames are the extremes,
    not spikes (the first areas are a real predicted 2CH curve that once had its ES frame flagged)."""
    phases = detect_phases(np.asarray(areas), kind="half")
    assert phases.flagged == ()
    assert phases.ed_frames == (int(np.argmax(areas)),)
    assert phases.es_frames == (int(np.argmin(areas)),)


def test_an_ed_near_either_end_of_a_cine_is_found_when_the_curve_turns_there():
    """ED 3 frames from each end: scipy's two-sided prominence misses them (the recording cuts one side
    short); a local maximum off the end frames that stands 0.3 of the range above the next ES is taken."""
    t = np.arange(67)
    curve = 1200.0 + 300.0 * np.cos(2 * np.pi * (t - 3) / 20)  # ED at 3, 23, 43, 63; ES at 13, 33, 53
    phases = detect_phases(curve, kind="cycle", sigma=0)
    assert list(phases.ed_frames) == [3, 23, 43, 63] and list(phases.es_frames) == [13, 33, 53]
    shifted = 1200.0 + 300.0 * np.cos(2 * np.pi * (t - 13) / 20)  # ES at 3, 23, 43, 63; ED at 13, 33, 53
    shifted[1] += 40.0  # a small local maximum before the first ES: not an ED (it stands 40 of 600 above it)
    phases = detect_phases(shifted, kind="cycle", sigma=0)
    assert list(phases.ed_frames) == [13, 33, 53] and list(phases.es_frames) == [3, 23, 43, 63]
