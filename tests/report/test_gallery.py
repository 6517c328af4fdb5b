import math

import numpy as np
import pytest

from lunet.boxes import box_to_pixels, reference_box
from lunet.evaluation.schema import ImageRecord
from lunet.report.gallery import box_outline, prediction_path, select_cases


def _row(patient, dh, dice=0.9, view="2CH", instant="ED"):
    return ImageRecord(
        "m", patient, view, instant, "Good", lv_endo_dice=dice, lv_epi_dice=dice, lv_epi_hd_mm=dh
    )


def test_best_median_worst_by_lv_epi_hausdorff():
    rows = [_row("p1", 5.0), _row("p2", 2.0), _row("p3", 9.0), _row("p4", math.nan), _row("p5", 4.0)]
    cases = {c.rank: c for c in select_cases(rows)}
    assert (cases["best"].patient, cases["median"].patient, cases["worst"].patient) == ("p2", "p5", "p3")
    assert cases["worst"].score == 9.0 and cases["worst"].score_name.startswith("LV_Epi d_H")
    assert select_cases([]) == []


def test_mean_dice_when_no_hausdorff():
    rows = [_row("p1", math.nan, dice=0.8), _row("p2", math.nan, dice=0.95), _row("p3", math.nan, dice=0.6)]
    cases = {c.rank: c for c in select_cases(rows)}
    assert (cases["best"].patient, cases["worst"].patient) == ("p2", "p3")
    assert cases["best"].score == pytest.approx(0.95) and cases["best"].score_name == "mean Dice"


def test_box_outline_hugs_the_mask_pixels():
    label = np.zeros((20, 30), np.uint8)
    label[4:10, 7:19] = 1  # rows 4..9, cols 7..18
    col0, row0, width, height = box_outline(reference_box(label), label.shape)
    # pixel c covers [c - 0.5, c + 0.5] in imshow coordinates
    assert (col0, row0, width, height) == pytest.approx((6.5, 3.5, 12.0, 6.0))
    assert box_to_pixels(reference_box(label), label.shape) == pytest.approx([7, 4, 19, 10])


def test_prediction_path_follows_the_run_layout(tmp_path):
    path = prediction_path(tmp_path / "predictions", "patient0007", "4CH", "ES")
    assert path == tmp_path / "predictions" / "patient0007" / "patient0007_4CH_ES.nii.gz"


def test_gallery_draws_every_series_and_notes_missing_predictions(fake_setup, tmp_path):
    import shutil

    from lunet.report.gallery import ImageSource, gallery_figure
    from lunet.report.readers import load_run
    from lunet.report.series import series_of

    run_dir = tmp_path / "run"
    shutil.copytree(fake_setup["run_b"], run_dir)
    (run_dir / "predictions" / "patient0002" / "patient0002_2CH_ED.nii.gz").unlink()  # lunet-o2's worst case
    series = series_of([load_run(run_dir, "lunet")])
    source = ImageSource(fake_setup["data"])
    png, notes = gallery_figure(series, [source, source])
    assert png is not None and png.startswith(b"\x89PNG")
    assert any("lunet-o2: no prediction file" in n and "patient0002_2CH_ED" in n for n in notes)
    png, notes = gallery_figure(series, [None, None])
    assert png is None and len(notes) == 2 and "no image data folder" in notes[0]


def _drawn_colours(atrium, trained=True):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    from lunet.report.gallery import draw_case

    label = np.zeros((40, 40), np.uint8)
    label[5:18, 12:28] = 2
    label[7:16, 15:25] = 1
    label[19:35, 10:30] = 3 if trained else 0
    ax = Figure().subplots()
    draw_case(ax, np.zeros((40, 40), np.float32), (0.3, 0.3), label, label, None, "t", atrium=atrium)
    colours = set()
    for collection in ax.collections:
        colours |= {to_hex(c) for c in collection.get_edgecolor()}
    return colours


def test_the_atrium_is_drawn_for_a_run_trained_on_it():
    from lunet.report.gallery import LA_PRED_COLOUR, LA_REF_COLOUR, trained_atrium

    assert {LA_PRED_COLOUR, LA_REF_COLOUR} <= _drawn_colours(atrium=True)
    assert not {LA_PRED_COLOUR, LA_REF_COLOUR} & _drawn_colours(atrium=False)
    assert "#00c000" in _drawn_colours(atrium=False)  # the LV contour as before

    from types import SimpleNamespace

    assert not trained_atrium(SimpleNamespace(per_image=[_row("p1", 2.0)]))
    la_row = ImageRecord("m", "p1", "2CH", "ED", "Good", la_dice=0.8)
    assert trained_atrium(SimpleNamespace(per_image=[la_row]))
