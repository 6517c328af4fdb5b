"""Lightning's console output, routed through the application's logging: each line once, in the
application's format, without advertising tips or repeated hardware lines; and the warnings of
``Trainer.fit`` that nothing a user does can act on."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator


class _LightningNoise(logging.Filter):
    """Drop Lightning's advertising tips and its "`Trainer.fit` stopped" line (``training.json`` and the
    outcome line of :func:`train` say it, with the reason); pass each hardware line ("GPU available: ...")
    once per process."""

    HARDWARE = ("GPU available", "TPU available", "HPU available")
    DROPPED = ("💡 Tip:", "`Trainer.fit` stopped:")

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.DROPPED):
            return False
        if message.startswith(self.HARDWARE):
            if message in self.seen:
                return False
            self.seen.add(message)
        return True


_NOISE = _LightningNoise()


def route_lightning_logs() -> None:
    """Print each Lightning log line once, in the application's format, without tips or repeats.

    ``import lightning`` gives its top logger a console handler of its own while letting records propagate,
    so where the application has configured the root logger (``lunet``'s CLI does) every Lightning line is
    printed twice. Then Lightning's handler is removed and the root handler prints it. Every ``Trainer``
    announces the hardware and may advertise a product: those lines are filtered (see ``_LightningNoise``).
    """
    import lightning

    console = getattr(lightning, "_console", None)
    top = logging.getLogger("lightning")
    if logging.getLogger().handlers and console in top.handlers and top.propagate:
        top.removeHandler(console)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if _NOISE not in rank_zero.filters:
        rank_zero.addFilter(_NOISE)


@contextlib.contextmanager
def quiet_fit_warnings(resume: bool) -> Iterator[None]:
    """Around ``Trainer.fit``: drop the warnings a user cannot act on."""
    with warnings.catch_warnings():
        # Lightning 2.6 calls a torch pytree API that torch deprecated; nothing a user can act on
        warnings.filterwarnings("ignore", message=r".*LeafSpec.* is deprecated")
        if resume:  # the folder holds last.ckpt: that is what resuming means
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        yield
