"""Size limits on input images, checked from a file's header before any pixel is decoded.

A 140 KB PNG can promise 12000 × 12000 pixels, a NIfTI header can promise more than the file holds, a
``.nii.gz`` can inflate to gigabytes: every reader of lunet asks :class:`SizeLimits` first, with the
dimensions read from the header, and refuses the file with one line naming its size and the limit.
The defaults are far beyond any echocardiogram (a few thousand pixels a side, a few hundred frames).
"""

from __future__ import annotations

from dataclasses import dataclass

#: 4096 × 4096 pixels per frame.
DEFAULT_MAX_PIXELS = 4096 * 4096
#: Frames per file (a 10 s clip at 200 frames/s).
DEFAULT_MAX_FRAMES = 2000
#: Decoded bytes per file (2 GiB).
DEFAULT_MAX_BYTES = 2 * 1024**3
#: The commands that take ``--max-pixels``, ``--max-frames`` and ``--max-decoded-mb``
#: (``lunet.data.commands.add_limit_arguments``); named when limits come from no command.
LIMIT_COMMANDS = ("lunet predict", "lunet preprocess", "lunet data summary")


@dataclass(frozen=True)
class SizeLimits:
    """Largest input lunet decodes.

    Attributes:
        max_pixels: rows × cols of one frame.
        max_frames: frames of one file.
        max_bytes: decoded size of one file (all frames, all samples), in bytes.
        command: the command whose ``--max-*`` flags set these limits (``"lunet data summary"``), named in a
            refusal as the way to raise them; ``""`` (the defaults, set by no flag): each command of
            :data:`LIMIT_COMMANDS` is named.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES
    max_bytes: int = DEFAULT_MAX_BYTES
    command: str = ""

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_frames", "max_bytes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")

    def problem(self, rows: int, cols: int, frames: int = 1, bytes_per_pixel: int = 1) -> str | None:
        """Why a file of this size is refused, or ``None`` when it is within the limits.

        Args:
            rows, cols: pixels of one frame (from the header).
            frames: number of frames (1 for a single image).
            bytes_per_pixel: decoded bytes per pixel (samples × bytes per sample).

        Returns:
            A phrase naming the size, the limit and how to raise it (:attr:`command`'s flag), to follow
            ``"<file>: "``; ``None`` when acceptable.
        """
        pixels = int(rows) * int(cols)
        if pixels > self.max_pixels:
            return (
                f"{rows} × {cols} pixels per frame ({pixels / 1e6:.1f} Mpx) is beyond the limit of "
                f"{self.max_pixels / 1e6:.1f} Mpx {self._raise('--max-pixels')}"
            )
        if frames > self.max_frames:
            limit = f"the limit of {self.max_frames} frames per file"
            return f"{frames} frames is beyond {limit} {self._raise('--max-frames')}"
        decoded = pixels * int(frames) * int(bytes_per_pixel)
        if decoded > self.max_bytes:
            return (
                f"{frames} frames of {rows} × {cols} pixels decode to {decoded / 2**20:,.0f} MiB, beyond "
                f"the limit of {self.max_bytes / 2**20:,.0f} MiB per file {self._raise('--max-decoded-mb')}"
            )
        return None

    def _raise(self, flag: str) -> str:
        """How to raise the limit of ``flag``: ``"(lunet predict --max-pixels raises it)"``."""
        if self.command:
            return f"({self.command} {flag} raises it)"
        return f"(the {flag} option of {', '.join(LIMIT_COMMANDS[:-1])} or {LIMIT_COMMANDS[-1]} raises it)"


#: The limits used when a caller gives none (dataset readers, training).
DEFAULT_LIMITS = SizeLimits()
