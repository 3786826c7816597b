"""Engine fixtures and helpers live in tests/engine_support.py (shared with the smoke tests)."""

from tests.engine_support import (  # noqa: F401
    ENGINE_PLAYBOOK,
    ENGINE_REGISTRY,
    FIXTURES,
    make_ctx,
    sent,
    sent_to,
)
