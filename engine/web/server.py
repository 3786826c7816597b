"""How the web application is served: one uvicorn configuration for `serve` and the tests.

Access logs are off: their request lines hold `/a/<token>` and `/i/<token>`, and a link token
is as good as the link. uvicorn's own records propagate to the root logger, where the
redacting handler of `config.logging` sees them, instead of going to uvicorn's own handlers.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


def server_config(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000,
                  log_level: str = "warning") -> uvicorn.Config:
    """The uvicorn configuration the web application runs with."""
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, log_config=None,
        server_header=False, lifespan="off",
    )
