"""Output for the command line: one JSON document on stdout, messages on stderr.

Everything printed here is text, never markup: names and titles come from a registry or a
command line that anyone may have filled, so `[/red]` or `[link=...]` in them are characters,
and control characters (ESC sequences that move the cursor, set a link or a window title,
carriage returns that overwrite a line, bidirectional overrides that reorder it) are shown as
visible escapes such as `\\x1b` instead of reaching the terminal. Styled output is built from
`rich.text.Text` pieces, whose text is neutralised too (`plain`, `styled`).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from rich.console import Console
from rich.text import Text

# C0 controls except tab and newline, DEL, C1 controls, and the bidirectional embeddings,
# overrides and isolates (they reorder what follows on a terminal line).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# In JSON, C0 controls are escaped by the encoder; DEL, C1 and bidi controls are not. Matched in
# the UTF-8 bytes (U+007F, U+0080-009F, U+202A-202E, U+2066-2069): five times faster than on
# the text, and skipped when none of their lead bytes occurs.
_UNSAFE_IN_JSON = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
_UNSAFE_LEADS = (b"\x7f", b"\xc2", b"\xe2")


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run a block without the cyclic garbage collector (switched back on after it).

    For a command that imports its services and builds a large result once, then exits:
    while tens of thousands of registry rows become objects, the collector would walk the
    whole heap again and again (a fifth of a preview over 10,000 communities) and free
    nothing, since what is built is reachable until the command ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def neutralise(value: object) -> str:
    """A value as text that is safe on a terminal: control characters become visible escapes."""
    return _UNSAFE.sub(_visible, str(value))


def plain(value: object, style: str = "") -> Text:
    """Data as a Rich Text: printed as it is (no markup), control characters neutralised."""
    return Text(neutralise("" if value is None else value), style=style)


def styled(*parts: object) -> Text:
    """A line of pieces: a str or value is data; a (text, style) pair is a styled piece."""
    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            text, style = part
            line.append(plain(text, style))
        else:
            line.append(plain(part))
    return line


class SafeConsole(Console):
    """A console that prints every string as text (no markup, emoji codes or highlighting) and
    neutralises control characters in it, also in table cells and titles."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        kwargs.setdefault("highlight", False)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Render a string as text, never as markup; control characters shown as escapes."""
        kwargs["markup"] = False
        kwargs["emoji"] = False
        return super().render_str(neutralise(text), **kwargs)

    def on_broken_pipe(self) -> None:
        """The reader went away: print nothing more on this stream, and say so as an error.

        Rich's own answer exits with status 1 and silences stdout even when stderr broke; a
        command that already changed something must be able to carry on (see AfterCommit).
        """
        silence(self)
        raise OutputClosedError("the output stream was closed by its reader")


class OutputClosedError(BrokenPipeError):
    """The stream being printed to was closed by its reader."""


def silence(console: Console) -> None:
    """Print nothing more on this console; its file descriptor now writes to /dev/null, so
    that flushing at exit cannot fail again."""
    console.quiet = True
    try:
        fd = console.file.fileno()
    except (AttributeError, OSError, ValueError):  # a test's capture has no descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


stdout = SafeConsole(soft_wrap=True)
stderr = SafeConsole(stderr=True, soft_wrap=True)


# orjson writes what json.dumps(ensure_ascii=False, indent=2, default=str) wrote, five to ten
# times faster (a checklist of thousands of communities): times, dataclasses and subclasses
# of str and int still go through `default` (str), and dict keys need not be strings.
_ORJSON_OPTIONS = (orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_APPEND_NEWLINE)


def emit_json(document: Any) -> None:
    """Print exactly one JSON document on stdout (UTF-8)."""
    try:
        data = orjson.dumps(document, default=str, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:  # what orjson refuses (an integer beyond 64 bits, ...)
        data = (json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n").encode()
    if any(lead in data for lead in _UNSAFE_LEADS):
        data = _UNSAFE_IN_JSON.sub(
            lambda m: f"\\u{ord(m.group().decode()):04x}".encode(), data)
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # a text-only stream (a test's StringIO)
        sys.stdout.write(data.decode())
    else:
        sys.stdout.flush()  # what was written as text goes first
        binary.write(data)
    sys.stdout.flush()


class AfterCommit:
    """Output of a command whose change is already committed: no failure may become an error.

    A closed pipe, a full disk or text the terminal cannot encode silences that stream and the
    command goes on; a person or script reading a failing status would retry and do it twice.
    """

    def __init__(self, incident_id: int) -> None:
        self.incident_id = incident_id

    def err(self, text: str) -> None:
        """A message on stderr, as text."""
        self._run(lambda: stderr.print(text), stderr)

    def out(self, action: Callable[[], object]) -> None:
        """Run a step that prints on stdout."""
        self._run(action, stdout)

    def sending_failed(self, exc: BaseException) -> None:
        """Sending from this process stopped; the declaration stands and a worker carries on."""
        logging.getLogger(__name__).warning(
            "incident %s: sending from this process stopped (%s)", self.incident_id,
            type(exc).__name__, exc_info=not isinstance(exc, KeyboardInterrupt))
        self.err(f"warning: incident {self.incident_id} is declared, but sending from this "
                 f"process stopped ({type(exc).__name__}); a running `verbinder worker` sends "
                 "what is due. Do not declare it again.")

    def _run(self, action: Callable[[], object], console: SafeConsole) -> None:
        try:
            action()
        except KeyboardInterrupt:
            return
        except Exception as exc:  # any output failure: closed pipe, ENOSPC, encoding
            silence(console)
            if console is stdout:
                self.err(f"warning: incident {self.incident_id} is declared; its output could "
                         f"not be printed ({type(exc).__name__})")
