"""CAMUS ``Info_2CH.cfg`` / ``Info_4CH.cfg`` files: ``Key: value`` lines -> :class:`ViewInfo`.

Both key sets are read: the newer release writes ``EF`` and ``FrameRate``, the 2019 release ``LVedv``,
``LVesv`` and ``LVef``. Only ``ED``, ``ES`` and ``ImageQuality`` are required; every field that is present
must parse, otherwise the error names the file and the key.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from lunet.data.camus_errors import CamusFormatError

logger = logging.getLogger(__name__)

#: Image-quality grades from best to worst.
QUALITIES: tuple[str, ...] = ("Good", "Medium", "Poor")

#: CAMUS key -> (ViewInfo field, kind). Kinds: "index" (int ≥ 1), "count" (int ≥ 1), "int", "float", "text".
_FIELDS: dict[str, tuple[str, str]] = {
    "ed": ("ed", "index"),
    "es": ("es", "index"),
    "nbframe": ("nb_frame", "count"),
    "sex": ("sex", "text"),
    "age": ("age", "int"),
    "imagequality": ("image_quality", "quality"),
    "ef": ("ef", "float"),
    "framerate": ("frame_rate", "float"),
    "lvedv": ("lv_edv", "float"),
    "lvesv": ("lv_esv", "float"),
    "lvef": ("lv_ef", "float"),
}
_REQUIRED = ("ED", "ES", "ImageQuality")


@dataclass(frozen=True)
class ViewInfo:
    """Contents of one ``Info_<view>.cfg``.

    Attributes:
        ed, es: 1-based frame indices of end-diastole / end-systole in the view's sequence.
        image_quality: ``"Good" | "Medium" | "Poor"``.
        nb_frame: number of frames of the sequence. sex: ``"M"``/``"F"`` as written. age: years.
        ef: ejection fraction in % (newer release). frame_rate: frames per second.
        lv_edv, lv_esv: reference volumes in ml; lv_ef: ejection fraction in % (2019 release).
    """

    ed: int
    es: int
    image_quality: str
    nb_frame: int | None = None
    sex: str | None = None
    age: int | None = None
    ef: float | None = None
    frame_rate: float | None = None
    lv_edv: float | None = None
    lv_esv: float | None = None
    lv_ef: float | None = None

    @property
    def ef_percent(self) -> float | None:
        """Ejection fraction in %: ``EF`` if present, else ``LVef``, else None."""
        return self.ef if self.ef is not None else self.lv_ef


def _convert(source: str, key: str, kind: str, value: str) -> object:
    def bad(expected: str) -> CamusFormatError:
        return CamusFormatError(f"{source}: field {key} = {value[:40]!r} is not {expected}")

    if kind == "text":
        if not value:
            raise bad("a non-empty text")
        return value
    if kind == "quality":
        for grade in QUALITIES:
            if value.lower() == grade.lower():
                return grade
        raise bad("one of Good, Medium, Poor")
    if kind == "float":
        try:
            number = float(value)
        except ValueError:
            raise bad("a number") from None
        if not math.isfinite(number) or number < 0:
            raise bad("a finite non-negative number")
        return number
    try:
        number = float(value)
    except ValueError:
        raise bad("an integer") from None
    if not math.isfinite(number) or number != int(number):
        raise bad("an integer")
    if kind in ("index", "count") and number < 1:
        raise bad("an integer ≥ 1")
    if kind == "int" and number < 0:
        raise bad("a non-negative integer")
    return int(number)


def parse_info_text(text: str, source: str = "<cfg>") -> ViewInfo:
    """Parse the text of an ``Info_*.cfg``; ``source`` names the file in error messages.

    Unknown keys are ignored. Raises :class:`CamusFormatError` for a missing required key, a line that is
    not ``Key: value`` or a value that does not parse (``ED``/``ES`` beyond ``NbFrame`` is only logged).
    """
    values: dict[str, object] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise CamusFormatError(f"{source}: line {number} is not 'Key: value': {line[:60]!r}")
        spec = _FIELDS.get(key.strip().lower())
        if spec is not None:
            values[spec[0]] = _convert(source, key.strip(), spec[1], value.strip())
    for key in _REQUIRED:
        if _FIELDS[key.lower()][0] not in values:
            raise CamusFormatError(f"{source}: missing required field {key}")
    info = ViewInfo(**values)  # type: ignore[arg-type]
    if info.nb_frame is not None and max(info.ed, info.es) > info.nb_frame:
        logger.warning("%s: ED=%d / ES=%d beyond NbFrame=%d", source, info.ed, info.es, info.nb_frame)
    return info


def read_info_cfg(path: str | os.PathLike[str]) -> ViewInfo:
    """Read and parse one ``Info_<view>.cfg`` file (UTF-8 or Latin-1)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CamusFormatError(f"{path}: cannot read the info file ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_info_text(text, str(path))
