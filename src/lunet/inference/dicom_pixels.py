"""DICOM pixels as the scanner showed them: every photometric interpretation converted explicitly to grey.

pydicom decodes with ``raw=True`` (no colour conversion of its own, whatever its version does by default);
the decoder reports the colour space of what it returns (a JPEG 2000 decoder applies the ICT/RCT itself and
returns RGB), and this module converts from that space:

| photometric interpretation | grey level |
|---|---|
| ``MONOCHROME2`` | as stored |
| ``MONOCHROME1`` | inverted (``2**BitsStored - 1 - value``; ``-value`` when signed) |
| ``PALETTE COLOR`` | the palette LUT applied (``apply_color_lut``), then BT.601 luma |
| ``RGB`` | BT.601 luma |
| ``YBR_FULL``, ``YBR_FULL_422``, ``YBR_ICT`` | to RGB by the BT.601 full-range matrix, then luma |
| ``YBR_RCT`` | inverse reversible colour transform (integer), then luma |

Anything else (``YBR_PARTIAL_*``, ``HSV`` …) is refused with the file name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lunet.inference.inputs import InputFormatError, to_grayscale

#: Photometric interpretations lunet reads.
SUPPORTED = ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT",
             "YBR_RCT")  # fmt: skip


def rgb_from_rct(ybr: np.ndarray) -> np.ndarray:
    """Inverse reversible colour transform (JPEG 2000 RCT): ``(…, 3)`` Y, Cb, Cr → int32 R, G, B.

    ``Cb = B − G`` and ``Cr = R − G`` are signed; ``G = Y − ⌊(Cb + Cr) / 4⌋``.
    """
    y, cb, cr = (ybr[..., k].astype(np.int32) for k in range(3))
    g = y - np.floor_divide(cb + cr, 4)
    return np.stack([cr + g, g, cb + g], axis=-1)


def rgb_from_ybr_full(ybr: np.ndarray) -> np.ndarray:
    """YBR_FULL / YBR_ICT (BT.601 full range, Cb and Cr centred on 128 for 8-bit) → float32 RGB."""
    from pydicom.pixels import convert_color_space

    return convert_color_space(np.asarray(ybr), "YBR_FULL", "RGB").astype(np.float32)


def grey_frame(array: np.ndarray, photometric: str, ds: Any, path: Path) -> np.ndarray:
    """One decoded frame ``(rows, cols)`` or ``(rows, cols, 3)`` in colour space ``photometric`` → grey.

    Args:
        array: the frame as the decoder returned it (``raw=True``).
        photometric: the colour space of ``array`` (the decoder's, which can differ from the file's tag).
        ds: the dataset (palette LUTs, ``BitsStored``, ``PixelRepresentation``).
        path: for messages.

    Returns:
        ``(rows, cols)``: the stored dtype for monochrome, float32 luma for colour.
    """
    photometric = str(photometric).strip().upper()
    if photometric == "MONOCHROME2":
        return array
    if photometric == "MONOCHROME1":
        if int(getattr(ds, "PixelRepresentation", 0) or 0) == 1:
            return np.negative(array)
        top = (1 << int(getattr(ds, "BitsStored", 8 * array.dtype.itemsize))) - 1
        return (top - array.astype(np.int64)).astype(array.dtype)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            return to_grayscale(apply_color_lut(array, ds))
        except (ValueError, AttributeError, KeyError) as err:
            raise InputFormatError(
                f"{path}: PALETTE COLOR image with a missing or broken palette ({err})"
            ) from None
    if array.ndim != 3 or array.shape[-1] != 3:
        raise InputFormatError(
            f"{path}: {photometric} image should have 3 samples per pixel, got {array.shape}"
        )
    if photometric == "RGB":
        return to_grayscale(array)
    if photometric in ("YBR_FULL", "YBR_FULL_422", "YBR_ICT"):
        return to_grayscale(rgb_from_ybr_full(array))
    if photometric == "YBR_RCT":
        return to_grayscale(rgb_from_rct(array))
    raise InputFormatError(
        f"{path}: photometric interpretation {photometric} is not supported "
        f"(lunet reads {', '.join(SUPPORTED)})"
    )
