import logging

from lunet.logs import info_once


def test_info_once_prints_a_fact_once_then_at_debug(caplog):
    logger = logging.getLogger("lunet.test_logs")
    with caplog.at_level(logging.DEBUG, logger="lunet.test_logs"):
        for _ in range(3):
            info_once(logger, "%s: %d patients", "/data", 40)
        info_once(logger, "%s: %d patients", "/data", 41)
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [
        (logging.INFO, "/data: 40 patients"),
        (logging.DEBUG, "/data: 40 patients"),
        (logging.DEBUG, "/data: 40 patients"),
        (logging.INFO, "/data: 41 patients"),
    ]
