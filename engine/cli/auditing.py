"""Commands that change something record a refusal or a failure in the audit log too.

The change itself is recorded by the flow, in its own transaction; a command that was refused
(exit 2) or failed (exit 1) after it opened the store records that in a transaction of its
own. A command refused before it touched the store (a bad option) records nothing: no
database is created or migrated just to say so.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from engine.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def audited(action: str, object_of: Callable[[dict[str, Any]], str | None] = lambda _: None
            ) -> Callable[[F], F]:
    """Decorate a command: a refusal or failure of it becomes an audit row."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except (typer.Exit, typer.Abort):
                raise
            except InputError as exc:
                _record(kwargs, action, object_of, "refused", exc)
                raise
            except Exception as exc:
                _record(kwargs, action, object_of, "error", exc)
                raise

        return run  # type: ignore[return-value]

    return decorate


def _record(kwargs: dict[str, Any], action: str,
            object_of: Callable[[dict[str, Any]], str | None], result: str,
            exc: Exception) -> None:
    ctx = kwargs.get("ctx")
    app = getattr(ctx, "obj", None)
    if app is None or "engine" not in vars(app):  # the store was never opened
        return
    try:
        from engine.audit.log import record_outcome  # the store is open: its log is loaded

        details: dict[str, Any] = {"error": type(exc).__name__}
        if isinstance(exc, InputError):  # what was refused; bounded, as every detail is
            details["problems"] = exc.problems[:3]
        record_outcome(app.engine, action=action, result=result, object=object_of(kwargs),
                       at=app.clock.now(), details=details)
    except Exception as failure:  # the store may be what failed: the command's error stands
        log.warning("could not record %s %s in the audit log: %s", action, result,
                    type(failure).__name__)
