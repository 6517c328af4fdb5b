"""Reference side of an evaluation: labels, image quality and clinical values of a CAMUS-style folder."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from lunet.data.labels import INSTANTS, VIEWS, Label
from lunet.evaluation.clinical import SimpsonOptions, default_simpson_options, patient_volumes
from lunet.evaluation.outliers import OutlierThresholds, reference_anatomical_bounds
from lunet.evaluation.records import SHAPE_PREFIXES
from lunet.evaluation.shape import convexity, simplicity

Key = tuple[str, str, str]  # (patient, view, instant)


class References:
    """Reference labels, qualities and clinical values of a CAMUS-style folder (read lazily, cached)."""

    def __init__(self, ref_dir: str | os.PathLike[str] | None, simpson: SimpsonOptions | None = None) -> None:
        from lunet.data.camus import scan_camus

        self.records = {r.patient_id.lower(): r for r in scan_camus(ref_dir).patients} if ref_dir else {}
        # None: camus on CAMUS data, geometric on the phantom (clinical.default_simpson_options)
        self.simpson = simpson or default_simpson_options(self.synthetic)
        self._volumes: dict[str, dict[str, float]] = {}
        self._shapes: dict[tuple[Key, int | None], dict[str, float]] = {}

    def quality(self, patient: str) -> str:
        record = self.records.get(patient)
        return record.image_quality if record else "Unknown"

    def label(self, key: Key) -> tuple[np.ndarray | None, tuple[float, float] | None]:
        from lunet.data.camus import check_label, read_frame

        record = self.records.get(key[0])
        path = None if record is None else record.path(key[1], key[2], gt=True)
        if path is None:
            return None, None
        array, spacing = read_frame(path)
        return check_label(array, path), spacing

    def clinical(self, patient: str) -> dict[str, float]:
        """``simpson_*`` (reference masks), ``cfg_*`` (Info_*.cfg) and ``truth_*`` (phantom) EDV/ESV/EF."""
        if patient in self._volumes:
            return self._volumes[patient]
        out: dict[str, float] = {}
        record = self.records.get(patient)
        if record is not None:
            masks = {}
            for view in VIEWS:
                for instant in INSTANTS:
                    label, spacing = self.label((patient, view.value, instant.value))
                    if label is not None:
                        masks[(view.value, instant.value)] = (label == Label.LV, spacing)
            out.update({f"simpson_{k}": v for k, v in patient_volumes(masks, self.simpson).items()})
            infos = list(record.info.values())
            for key, attr in (("edv_ml", "lv_edv"), ("esv_ml", "lv_esv"), ("ef_percent", "ef_percent")):
                values = [getattr(i, attr) for i in infos if getattr(i, attr) is not None]
                out[f"cfg_{key}"] = float(values[0]) if values else math.nan
            truth = record.directory / "phantom_truth.json"
            if truth.is_file():
                data = json.loads(truth.read_text())
                out.update(
                    {f"truth_{k}": float(data.get(k, math.nan)) for k in ("edv_ml", "esv_ml", "ef_percent")}
                )
        self._volumes[patient] = out
        return out

    def shape(self, key: Key, size: int | None = None) -> dict[str, float]:
        """Sp and Cx of the reference's LV cavity, myocardium and epicardium (``lv_simplicity`` …; {} without
        a reference), cached.

        Args:
            key: ``(patient, view, instant)``.
            size: None for the reference as stored; ``S`` for the reference passed through the predictions'
                resolution path (:func:`network_round_trip`).
        """
        if (key, size) not in self._shapes:
            label, spacing = self.label(key)
            scores: dict[str, float] = {}
            if label is not None and spacing is not None:
                if size is not None:
                    label = network_round_trip(label, spacing, size)
                for prefix, values in SHAPE_PREFIXES.items():
                    mask = np.isin(label, values)
                    scores[f"{prefix}_simplicity"] = simplicity(mask, spacing)
                    scores[f"{prefix}_convexity"] = convexity(mask, spacing)
            self._shapes[(key, size)] = scores
        return self._shapes[(key, size)]

    def anatomical_bounds(
        self, keys: Iterable[Key], thresholds: OutlierThresholds, size: int | None = None
    ) -> OutlierThresholds:
        """``thresholds`` with the anatomical bounds replaced by the lowest Sp and Cx of the reference masks
        of ``keys`` (:func:`lunet.evaluation.outliers.reference_anatomical_bounds`), as stored (``size``
        None) or passed through the network size ``size`` and back (:func:`network_round_trip`).

        Raises:
            ValueError: none of ``keys`` has a reference mask.
        """
        rows = [shape for shape in (self.shape(k, size) for k in sorted(set(keys))) if shape]
        if not rows:
            raise ValueError("anatomical bounds from the references: no evaluated image has a reference mask")
        bounds = reference_anatomical_bounds(rows, thresholds.myo_shape_structure)
        how = "" if size is None else f" after a round trip through the {size}×{size} network grid"
        source = (
            f"anatomical values: the lowest on the {len(rows)} reference masks evaluated{how}, "
            "the papers' rule applied to this data"
        )
        return replace(thresholds, **bounds, anatomical_source=source)

    @property
    def synthetic(self) -> bool:
        return any((r.directory / "phantom_truth.json").is_file() for r in self.records.values())


def network_round_trip(label: np.ndarray, spacing: tuple[float, float], size: int) -> np.ndarray:
    """A reference label map as a perfect network of input ``size`` would return it on the original grid.

    Down as the training targets are made (:func:`lunet.data.preprocess.resize_label`, nearest neighbour to
    ``size × size``), back as predictions are (bilinear resize of the one-hot maps, ``align_corners=False``
    as :func:`lunet.models.postprocess.labels_on_grid`, then argmax).

    Args:
        label: (rows, cols) uint8 labels. spacing: (row_mm, col_mm). size: network input size ``S``.

    Returns:
        (rows, cols) uint8 labels.
    """
    from skimage.transform import resize

    from lunet.data.preprocess import resize_label

    small, _ = resize_label(label, spacing, size)
    classes = int(max(label.max(), small.max())) + 1
    one_hot = (small[None] == np.arange(classes)[:, None, None]).astype(np.float32)
    shape = (classes, *label.shape)
    back = resize(one_hot, shape, order=1, mode="edge", anti_aliasing=False, preserve_range=True)
    return back.argmax(0).astype(np.uint8)
