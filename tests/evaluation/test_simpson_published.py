"""``camus`` against a plain-loop transcription of the CAMUS authors' published Simpson steps.

The transcription below is written from the published description (vitalab/vital,
``vital/metrics/evaluate/clinical/heart_us.py``, read at commit 1fc1b25; steps listed in
:mod:`lunet.evaluation.simpson`) with plain loops; it shares no code with lunet's vectorised implementation
except the library call the published code makes for step 1 (Pillow's nearest-neighbour resize, checked here
against the pixel-centre rule away from its exact ties). Masks are analytic: sections of half and full
spheroids and ellipsoids, on square and anisotropic pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.measure import find_contours

from lunet.evaluation.clinical import patient_volumes, simpson_biplane_ml
from lunet.evaluation.simpson import SimpsonOptions, disc_diameters_mm, long_axis, view_discs
from lunet.evaluation.simpson_camus import published_isotropic_mask, published_view

CAMUS = SimpsonOptions.for_convention("camus")
ARC = SimpsonOptions.for_convention("camus-arc")


# ---- the transcription ---------------------------------------------------------------------------------


def centre_rule(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest neighbour by pixel centres: output k takes input floor((k + ½)·n_in/n_out); and where that is
    a tie (an exact integer), which Pillow's floating-point walk may resolve either way."""
    src = np.array([((2 * k + 1) * n_in) // (2 * n_out) for k in range(n_out)])
    tie = np.array([((2 * k + 1) * n_in) % (2 * n_out) == 0 for k in range(n_out)])
    return src, tie


def ref_isotropic(mask: np.ndarray, spacing: tuple[float, float]) -> tuple[np.ndarray, float]:
    """Step 1 as published: Pillow's nearest-neighbour resize to square pixels of the smaller spacing."""
    from PIL import Image

    side = min(spacing)
    rows = int(np.round(mask.shape[0] * spacing[0] / side))
    cols = int(np.round(mask.shape[1] * spacing[1] / side))
    image = Image.fromarray(np.asarray(mask, dtype=np.uint8))
    return np.asarray(image.resize((cols, rows), resample=Image.Resampling.NEAREST)), side


def ref_walk(mask: np.ndarray, point: np.ndarray, step: np.ndarray) -> float:
    d = 8.0
    while True:
        r, c = np.round(point + d * step).astype(int)
        if r < 0 or c < 0 or r >= mask.shape[0] or c >= mask.shape[1] or mask[r, c] == 0:
            return d
        d += 0.5


def ref_view(mask: np.ndarray, spacing: tuple[float, float]) -> tuple[list[float], float]:
    """(20 disc widths mm, disc height mm) of one view by the published steps."""
    iso, side = ref_isotropic(mask, spacing)
    contour = find_contours(iso, 0.5)[0]
    best, best_j, best_i = 0.0, -1, -1
    for i in range(2, len(contour)):
        for j in range(i):
            dr, dc = contour[j] - contour[i]
            if abs(math.degrees(math.atan2(dr, dc))) > 45:
                continue
            length = math.hypot(dr, dc)
            if length == 0:  # the closing point repeats the first: never longer than the best so far
                continue
            ok = True
            for k in range(j + 1, i):
                pr, pc = contour[i] - contour[k]
                if abs(dr * pc - dc * pr) / length > 8:
                    ok = False
                    break
            if ok and length > best:
                best, best_j, best_i = length, j, i
    base = contour[best_j + round((best_i - best_j) / 2)]
    far, apex = 0.0, 0
    for k in range(len(contour)):
        dist = math.hypot(*(contour[k] - base))
        if dist > far:
            far, apex = dist, k
    axis = contour[apex] - base
    normal = np.array([-axis[1], axis[0]])
    normal = normal / np.linalg.norm(normal)  # as published (math.hypot can differ in the last bit)
    widths = []
    for fraction in np.linspace(0, 1, 20, endpoint=False):  # as published: k/20 to numpy's linspace ulp
        centre = base + axis * fraction
        widths.append((ref_walk(iso, centre, normal) + ref_walk(iso, centre, -normal)) * side)
    return widths, far * side / 20


def ref_patient(masks: dict) -> tuple[float, float]:
    """(EDV ml, ESV ml), unrounded (the published code rounds each to whole ml)."""
    views = {key: ref_view(mask, spacing) for key, (mask, spacing) in masks.items()}
    height = max(h for _, h in views.values())
    out = []
    for instant in ("ED", "ES"):
        w2, w4 = views[("2CH", instant)][0], views[("4CH", instant)][0]
        out.append(sum(a * b for a, b in zip(w2, w4)) * height * math.pi / 4 / 1000)
    return out[0], out[1]


# ---- analytic masks ------------------------------------------------------------------------------------


def section(a_mm: float, b_mm: float, spacing: tuple[float, float], half: bool = True) -> np.ndarray:
    """Section through the long axis of a spheroid (semi-axes a along rows, b across); ``half``: cut at the
    equator, flat base at the bottom, apex up (an LV). Pixels are inside when their centre is."""
    rows, cols = int(2 * a_mm / spacing[0]) + 24, int(2 * b_mm / spacing[1]) + 24
    r = (np.arange(rows)[:, None] - rows / 2 + 0.5) * spacing[0]
    c = (np.arange(cols)[None, :] - cols / 2 + 0.5) * spacing[1]
    mask = (r / a_mm) ** 2 + (c / b_mm) ** 2 <= 1
    return mask & (r <= 0) if half else mask


SHAPES = [
    (section(30.0, 14.0, (0.5, 0.5)), (0.5, 0.5)),
    (section(30.0, 14.0, (0.6, 0.4)), (0.6, 0.4)),
    (section(26.0, 15.0, (0.35, 0.7)), (0.35, 0.7)),
    (section(22.0, 12.0, (0.5, 0.5), half=False), (0.5, 0.5)),
]


def test_isotropic_resize_is_the_pixel_centre_rule_up_to_ties() -> None:
    rng = np.random.default_rng(1)
    for spacing in ((0.3, 0.15), (0.154, 0.308), (0.6, 0.4), (0.25, 0.25)):
        mask = rng.random((23, 31)) > 0.5
        ours, side = published_isotropic_mask(mask, spacing)
        assert side == min(spacing)
        np.testing.assert_array_equal(ours, ref_isotropic(mask, spacing)[0])
        rows, row_tie = centre_rule(mask.shape[0], ours.shape[0])
        cols, col_tie = centre_rule(mask.shape[1], ours.shape[1])
        differs = ours != mask[np.ix_(rows, cols)]
        assert not differs[np.ix_(~row_tie, ~col_tie)].any()
    iso, _ = published_isotropic_mask(mask, (0.3, 0.15))
    np.testing.assert_array_equal(iso, np.repeat(mask, 2, axis=0))


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_one_view_equals_the_transcription_disc_by_disc(index: int) -> None:
    mask, spacing = SHAPES[index]
    widths, height = ref_view(mask, spacing)
    discs = view_discs(mask, spacing, CAMUS)
    assert discs is not None
    diameters, length = discs
    np.testing.assert_allclose(diameters, widths, rtol=0, atol=1e-9)  # the first disc (f = 0) included
    assert length / 20 == pytest.approx(height, abs=1e-9)


def test_patient_volumes_equal_the_transcription_within_the_rounding() -> None:
    """A half ellipsoid (2CH and 4CH slices with different semi-axes) at ED and a smaller one at ES."""
    masks = {
        ("2CH", "ED"): (section(32.0, 14.0, (0.5, 0.4)), (0.5, 0.4)),
        ("4CH", "ED"): (section(32.0, 16.0, (0.4, 0.5)), (0.4, 0.5)),
        ("2CH", "ES"): (section(26.0, 10.0, (0.5, 0.4)), (0.5, 0.4)),
        ("4CH", "ES"): (section(26.0, 12.0, (0.4, 0.5)), (0.4, 0.5)),
    }
    edv, esv = ref_patient(masks)
    ours = patient_volumes(masks, CAMUS)
    # the published code returns round(V) ml: ours (unrounded) is within 0.5 ml of it
    assert abs(ours["edv_ml"] - round(edv)) <= 0.5 and abs(ours["esv_ml"] - round(esv)) <= 0.5
    assert ours["edv_ml"] == pytest.approx(edv, abs=1e-9) and ours["esv_ml"] == pytest.approx(esv, abs=1e-9)
    assert abs(ours["ef_percent"] - 100 * (edv - esv) / edv) < 0.5
    # and the volumes are those of the shapes, up to the i/20 rule, the shared height and the first disc
    truth_ed = 2 / 3 * math.pi * 32 * 14 * 16 / 1000
    assert 0.85 < ours["edv_ml"] / truth_ed < 1.1


def test_first_disc_lies_on_the_mitral_plane() -> None:
    """The published first disc (f = 0) is centred on the contour, on the mitral plane itself, and its walk
    leaves the mask early: on a half spheroid with a 28 mm base it is about half that wide (15–16 mm), where
    camus-arc measures it just above the arc at full width. Three pixel sizes and two row offsets."""
    for spacing in ((0.5, 0.5), (0.4, 0.4), (0.3, 0.3)):
        for shift in (0, 1):
            mask = np.roll(section(30.0, 14.0, spacing), shift, axis=0)
            widths, _ = ref_view(mask, spacing)
            view = published_view(mask, spacing)
            assert view is not None and view.diameters_mm[0] == pytest.approx(widths[0], abs=1e-9)
            assert view.base_px[0] == pytest.approx(view.contour_px[:, 0].max())  # base on the bottom edge
            assert 14.0 < view.diameters_mm[0] < 17.0
            axis = long_axis(mask, spacing, ARC)
            assert axis is not None and 27.0 < disc_diameters_mm(axis, ARC)[0] < 28.5


def test_degenerate_and_bad_masks() -> None:
    assert published_view(np.zeros((20, 20), bool), (0.5, 0.5)) is None
    assert math.isnan(
        simpson_biplane_ml(np.zeros((20, 20), bool), (0.5, 0.5), SHAPES[0][0], (0.5, 0.5), CAMUS)
    )
    with pytest.raises(ValueError, match="2-D"):
        published_view(np.zeros((2, 20, 20), bool), (0.5, 0.5))
    axis = long_axis(SHAPES[0][0], SHAPES[0][1], CAMUS)
    assert axis is not None
    with pytest.raises(ValueError, match="view_discs"):
        disc_diameters_mm(axis, CAMUS)
    with pytest.raises(ValueError, match="convention"):
        SimpsonOptions.for_convention("vital")
