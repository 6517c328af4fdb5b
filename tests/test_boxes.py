import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunet.boxes import box_from_mask, box_to_pixels, enlarge_box, reference_box
from lunet.data.labels import Label


def test_box_from_mask_uses_pixel_edges():
    mask = np.zeros((100, 200), dtype=bool)
    mask[10:30, 50:150] = True
    np.testing.assert_allclose(box_from_mask(mask), [50 / 200, 10 / 100, 150 / 200, 30 / 100])
    np.testing.assert_allclose(box_to_pixels(box_from_mask(mask), mask.shape), [50, 10, 150, 30])


def test_margin_enlarges_each_axis_by_its_own_extent_and_clips():
    mask = np.zeros((100, 100), dtype=bool)
    mask[20:60, 40:60] = True  # 40 rows tall, 20 cols wide
    box = box_to_pixels(box_from_mask(mask, margin=0.05), mask.shape)
    np.testing.assert_allclose(box, [40 - 1, 20 - 2, 60 + 1, 60 + 2])
    edge = np.zeros((100, 100), dtype=bool)
    edge[0:50, 0:50] = True
    np.testing.assert_allclose(box_from_mask(edge, margin=0.3), [0, 0, 0.65, 0.65])


def test_reference_box_covers_lv_and_myocardium_only():
    labels = np.zeros((64, 64), dtype=np.uint8)
    labels[20:40, 20:30] = Label.LV
    labels[18:42, 30:34] = Label.MYO
    labels[0:10, 0:64] = Label.LA  # the atrium is outside the reference box
    np.testing.assert_allclose(reference_box(labels), [20 / 64, 18 / 64, 34 / 64, 42 / 64])


def test_empty_and_non_2d_masks_raise():
    with pytest.raises(ValueError, match="empty"):
        box_from_mask(np.zeros((8, 8), dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        box_from_mask(np.ones((2, 8, 8), dtype=bool))


@given(st.integers(0, 60), st.integers(1, 63), st.integers(0, 60), st.integers(1, 63), st.floats(0, 0.5))
def test_enlarged_box_contains_mask_and_stays_in_image(r0, dr, c0, dc, margin):
    mask = np.zeros((64, 64), dtype=bool)
    mask[r0 : r0 + dr, c0 : c0 + dc] = True
    tight = box_from_mask(mask)
    box = box_from_mask(mask, margin)
    assert np.all(box >= 0) and np.all(box <= 1)
    assert box[0] <= tight[0] and box[1] <= tight[1] and box[2] >= tight[2] and box[3] >= tight[3]
    np.testing.assert_allclose(enlarge_box(tight, margin), box)


def test_boxes_csv_round_trip_and_errors(tmp_path):
    from lunet.boxes import BOX_CSV_COLUMNS, BoxFileError, read_boxes_csv, write_boxes_csv

    path = tmp_path / "boxes.csv"
    boxes = {
        ("patient0002", "4CH", "ES"): (0.1, 0.2, 0.3, 0.4),
        ("patient0001", "2CH", "ED"): np.array([0, 0, 1, 1]),
    }
    write_boxes_csv(path, boxes)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(BOX_CSV_COLUMNS) and lines[1].startswith("patient0001,2CH,ED,")  # sorted
    found = read_boxes_csv(path)
    assert set(found) == set(boxes) and found[("patient0002", "4CH", "ES")].tolist() == [0.1, 0.2, 0.3, 0.4]
    path.write_text(lines[0] + "\nPATIENT0003,2ch,ed,0.1,0.2,0.3,0.4\n")
    assert list(read_boxes_csv(path)) == [("patient0003", "2CH", "ED")]  # CAMUS case of names
    path.write_text(lines[0] + "\npatient0001,2CH,ED,0.1,oops,0.3,0.4\n")
    with pytest.raises(BoxFileError, match=r"boxes\.csv: line 2"):
        read_boxes_csv(path)
    path.write_text("patient,x_min\n")
    with pytest.raises(BoxFileError, match="header"):
        read_boxes_csv(path)


def test_box_iou_known_answers_on_numpy_and_torch():
    import torch

    from lunet.boxes import box_iou

    a = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.2, 0.2], [0.0, 0.0, 0.2, 0.2]])
    b = np.array([[0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.2, 0.2], [0.5, 0.5, 0.9, 0.9]])
    want = [1 / 7, 1.0, np.nan, 0.0]  # quarter overlap: 0.0625 / (0.25 + 0.25 - 0.0625); empty union: NaN
    np.testing.assert_allclose(box_iou(a, b), want, rtol=1e-12)
    got = box_iou(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert isinstance(got, torch.Tensor) and got.shape == (4,)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    assert float(box_iou(a[0], b[0])) == pytest.approx(1 / 7)  # two single boxes: a 0-d array
