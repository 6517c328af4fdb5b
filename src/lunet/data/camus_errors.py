"""The one exception type for bad CAMUS-style input."""

from __future__ import annotations


class CamusFormatError(ValueError):
    """A data file or folder is missing, unreadable or malformed; the message names the file and problem."""
