"""Logging helpers: one line per fact.

A library function called several times in one process (the dataset scan that ``lunet demo`` runs for the
cache, each training run and each evaluation) would otherwise repeat the same line; :func:`info_once` prints
it at INFO the first time and at DEBUG afterwards.
"""

from __future__ import annotations

import logging

_SEEN: set[tuple[str, str]] = set()


def info_once(logger: logging.Logger, message: str, *args: object) -> None:
    """``logger.info(message, *args)`` the first time this process logs that text, ``logger.debug`` after."""
    text = message % args if args else message
    key = (logger.name, text)
    level = logging.DEBUG if key in _SEEN else logging.INFO
    _SEEN.add(key)
    logger.log(level, "%s", text)
