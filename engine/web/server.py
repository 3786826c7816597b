"""How the web application is served: one uvicorn configuration for `serve` and the tests.

Access logs are off: their request lines hold `/a/<token>` and `/i/<token>`, and a link token
is as good as the link. Should a handler be attached to `uvicorn.access` all the same (which
turns uvicorn's access lines back on), a filter on that logger redacts the tokens first.
uvicorn's other records propagate to the root logger, where the redacting handler of
`config.logging` sees them, instead of going to uvicorn's own handlers.
"""

from __future__ import annotations

import gc
import logging

import uvicorn
from starlette.types import ASGIApp

from config.logging import RedactingFilter

ACCESS_LOGGER = "uvicorn.access"
# The cyclic collector's thresholds for a serving process: a young collection after 50,000
# allocations instead of 700. A board of 500 communities allocates hundreds of thousands of
# short-lived objects per render; with the default thresholds the older generations were
# walked mid-request, and a tenth of the board's answers took 4x their median (bench.board:
# p95 183 ms against p50 44 ms; with these 56 against 45). Memory freed by reference counting
# is unaffected; cycles wait a little longer.
SERVING_THRESHOLDS = (50_000, 10, 10)


def protect_access_log() -> None:
    """Put the redacting filter (tokens, phones, emails) on uvicorn's access logger (once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


def server_config(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8000,
                  log_level: str = "warning") -> uvicorn.Config:
    """The uvicorn configuration the web application runs with."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, log_config=None,
        server_header=False, lifespan="off",
    )
    protect_access_log()
    return config


def settle_heap() -> None:
    """Before serving: collect once, keep what start-up built out of every later collection
    (`gc.freeze`), and collect young objects less often (SERVING_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
