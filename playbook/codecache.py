"""Compiled playbook code kept between processes: a command that loads the playbook (and
the probe that checks it) need not compile its hundred message texts and expressions again.

What is kept per text is what compiling it gives: the Python code object Jinja generated in
the sandbox, and for a message text the names it uses. An entry is found by the SHA-256 of
its own source (and kind), inside one file whose name and header carry `code_key()`: a hash
of every module of this package (the sandbox, its code generator and parse rewriting, the
budget, the loader's checks), of Jinja's and MarkupSafe's modules and versions and of the
Python version. Change any of them (a fixed limit, a newer Jinja) and no old code is found,
so compiled code can never skip a rule the current code would apply. Only texts that
compiled without a problem are kept: the loader's located errors come from compiling as
before.

The file lies in `$VERBINDER_CACHE_DIR` when set, else the user's cache folder
(`$XDG_CACHE_HOME/verbinder`, else `~/.cache/verbinder`; `VERBINDER_CODE_CACHE=off` turns the
cache off), is written atomically
with mode 0600, and is used only when it is a regular file of this user that nobody else may
write, with its checksum intact; otherwise it is ignored (and replaced on the next write).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import stat
import sys
import threading
import types
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

MAGIC = b"verbinder-code-cache 1\n"
MAX_ENTRIES = 4096  # past this the file keeps only what the last process used
DISABLE = "VERBINDER_CODE_CACHE"
FOLDER = "VERBINDER_CACHE_DIR"
_JINJA_MODULES = ("compiler", "environment", "lexer", "nodes", "optimizer", "parser",
                  "runtime", "sandbox", "filters", "utils", "defaults", "idtracking")


def _digest_files(digest: Any, files: list[Path]) -> None:
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")


@lru_cache(maxsize=1)
def code_key() -> str:
    """Hash of everything that decides what a text compiles to and what it may do."""
    return key_of(Path(__file__).resolve().parent, jinja2.__version__)


def key_of(package: Path, jinja_version: str) -> str:
    """The code key of a copy of this package's modules and a Jinja version (with the
    installed Jinja's and MarkupSafe's modules and the Python version)."""
    digest = hashlib.sha256(b"verbinder playbook code\0")
    _digest_files(digest, sorted(package.glob("*.py")))
    jinja_dir = Path(jinja2.__file__).resolve().parent
    _digest_files(digest, [jinja_dir / f"{name}.py" for name in _JINJA_MODULES])
    _digest_files(digest, [Path(markupsafe.__file__).resolve()])
    digest.update(f"\0jinja2 {jinja_version}\0{sys.version}\0"
                  f"{sys.implementation.cache_tag}\0marshal {marshal.version}".encode())
    return digest.hexdigest()


def cache_folder() -> Path | None:
    """Where the cache file lies; None when the cache is turned off."""
    if os.environ.get(DISABLE, "").strip().lower() in ("0", "off", "no", "false"):
        return None
    chosen = os.environ.get(FOLDER, "").strip()
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder (a service account): no cache
            return None
    return Path(base) / "verbinder"


def _entry_key(kind: str, source: str) -> bytes:
    return hashlib.sha256(kind.encode() + b"\0" + source.encode("utf-8", "surrogatepass")).digest()


def _valid(kind: str, value: Any) -> bool:
    if kind == "expr":
        return isinstance(value, types.CodeType)
    return (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], types.CodeType)
            and isinstance(value[1], tuple) and all(isinstance(n, str) for n in value[1]))


class CodeCache:
    """Entries of one code key: read from the file on first use, written back by `save`."""

    def __init__(self, folder: Path | None, key: str) -> None:
        self.path = folder / f"code-{key[:32]}.bin" if folder is not None else None
        self.key = key
        self._stored: dict[bytes, Any] | None = None
        self._used: dict[bytes, Any] = {}
        self._dirty = False
        self._lock = threading.Lock()  # a web server loads playbooks in several threads

    def get(self, kind: str, source: str) -> Any | None:
        """The kept value of a text of this kind, or None."""
        key = _entry_key(kind, source)
        value = self._used.get(key)
        if value is None:
            value = self._entries().get(key)
            if value is None or not _valid(kind, value):
                return None
            with self._lock:
                self._used[key] = value
        return value

    def put(self, kind: str, source: str, value: Any) -> None:
        """Keep a value (written to the file by the next `save`)."""
        with self._lock:
            self._used[_entry_key(kind, source)] = value
            self._dirty = True

    def save(self) -> None:
        """Write the entries when new ones came; a file that cannot be written is skipped."""
        with self._lock:
            if not self._dirty or self.path is None:
                return
            self._dirty = False
            entries = {**self._entries(), **self._used}
            if len(entries) > MAX_ENTRIES:
                entries = dict(self._used)
        payload = marshal.dumps(entries)
        data = MAGIC + self.key.encode() + b"\n" + hashlib.sha256(payload).digest() + payload
        with contextlib.suppress(OSError, ValueError):  # a cache: the next process compiles
            _write_private(self.path, data)

    def _entries(self) -> dict[bytes, Any]:
        if self._stored is None:
            self._stored = _read(self.path, self.key) if self.path is not None else {}
        return self._stored


def _read(path: Path, key: str) -> dict[bytes, Any]:
    """The entries of a private, intact cache file of this code key; {} for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return {}
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or (
                hasattr(os, "getuid") and info.st_uid != os.getuid()):
            return {}
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read()
    except OSError:
        return {}
    finally:
        os.close(fd)
    head = MAGIC + key.encode() + b"\n"
    if not data.startswith(head) or len(data) < len(head) + 32:
        return {}
    checksum, payload = data[len(head):len(head) + 32], data[len(head) + 32:]
    if hashlib.sha256(payload).digest() != checksum:
        return {}
    try:
        entries = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(entries, dict) or not all(isinstance(k, bytes) for k in entries):
        return {}
    return entries


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 in a folder of mode 0700 that belongs to this user."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_mode & 0o022 or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        return  # a folder others may write to: keep nothing there
    temporary = folder / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


_CURRENT: CodeCache | None = None


def current() -> CodeCache:
    """This process's cache (created on first use)."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = CodeCache(cache_folder(), code_key())
    return _CURRENT


def reset() -> None:
    """Forget this process's cache (the folder or the setting may have changed; tests)."""
    global _CURRENT
    _CURRENT = None
