"""Where an export goes: a file written whole or not at all, or standard output.

A file is written under a temporary name in the target's folder (owner-only from its
creation), and renamed over the target only when it is complete, so an interrupted export
leaves no half file and never a readable one. A file that holds personal data stays 0600;
one without gets the permissions a new file gets (the umask).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import BinaryIO

from engine.errors import InputError


def check_target(path: Path | None) -> None:
    """Refuse (exit 2) an --output whose folder does not exist or that names a folder."""
    if path is None:
        return
    if path.is_dir():
        raise InputError(f"--output {path}: is a folder, not a file")
    if not path.parent.is_dir():
        raise InputError(f"--output {path}: folder {path.parent} does not exist")


class Output:
    """A binary stream to a file (published by `publish`) or to standard output."""

    def __init__(self, path: Path | None, *, private: bool) -> None:
        self.path = path
        self.private = private
        self.temp: Path | None = None
        self.stream: BinaryIO

    def __enter__(self) -> Output:
        if self.path is None:
            self.stream = sys.stdout.buffer
            return self
        self.temp = self.path.parent / f".{self.path.name}.{secrets.token_hex(6)}.part"
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.stream = os.fdopen(fd, "wb")
        return self

    def publish(self) -> None:
        """Make the finished file visible under its name (nothing to do for stdout)."""
        if self.path is None or self.temp is None:
            self.stream.flush()
            return
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        if not self.private:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.temp, 0o666 & ~umask)
        os.replace(self.temp, self.path)
        self.temp = None

    def __exit__(self, *exc: object) -> None:
        if self.temp is not None:  # not published: an error on the way
            if not self.stream.closed:
                self.stream.close()
            self.temp.unlink(missing_ok=True)
