"""Reading a spec file or an included file: a regular file of at most 10 MiB, UTF-8 text.

    text = read_text("specs/lenet5.yaml")                 # raises SpecError, located

A path that names a device (`/dev/zero` never ends), a FIFO (opening one blocks until a writer
comes), a socket or a directory is refused from `os.stat`, before it is opened; the file is
then opened without blocking and read up to the bound, so a file swapped for a FIFO or grown
after the check cannot hang or exhaust the reader either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from netspec.errors import Location, SpecError

MAX_BYTES = 10 * 1024 * 1024
_SIZE_WORDS = f"{MAX_BYTES // (1024 * 1024)} MB"


def read_text(path: str | os.PathLike, loc: Location | None = None, what: str = "spec file",
              notes: tuple[str, ...] = ()) -> str:
    """The UTF-8 text of the regular file at `path`. A mistake is a SpecError at `loc` (where
    the path is written; the file's own first line when None); one inside the file (bytes that
    are not UTF-8) is located in the file itself, with `notes` (e.g. where it is included)."""
    path = Path(path)
    where = loc or Location(str(path), 1, 1)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError(f"no such {what}: {path}", loc, hint="check the path") from None
    except OSError as err:
        raise SpecError(f"cannot read {what} {path}: {err.strerror or err}", where) from None
    _check_kind(info, path, where, what)
    data = _read_bounded(path, where, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise not_utf8(path, err, notes) from None


def _check_kind(info: os.stat_result, path: Path, where: Location, what: str) -> None:
    """Refuse what is not a regular file of at most MAX_BYTES, naming what it is."""
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise SpecError(f"{path} is a directory, not {_a(what)}", where,
                        hint="name a YAML file inside it")
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device")
        raise SpecError(f"{path} is {kind}, not a regular file", where,
                        hint=f"{_a(what)} is a YAML text file of at most {_SIZE_WORDS}")
    if info.st_size > MAX_BYTES:
        raise _too_large(path, where, what)


def _read_bounded(path: Path, where: Location, what: str) -> bytes:
    """The file's bytes, at most MAX_BYTES; opened without blocking (O_NONBLOCK), and checked
    again once open, in case the path was swapped after `os.stat`."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise SpecError(f"cannot read {what} {path}: {err.strerror or err}", where) from None
    try:
        _check_kind(os.fstat(fd), path, where, what)
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except BlockingIOError:
        raise SpecError(f"{path} cannot be read without waiting; it is not a regular file",
                        where) from None
    except OSError as err:
        raise SpecError(f"cannot read {what} {path}: {err.strerror or err}", where) from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise _too_large(path, where, what)
    return b"".join(chunks)


def _too_large(path: Path, where: Location, what: str) -> SpecError:
    return SpecError(f"{path} is larger than {_SIZE_WORDS}", where,
                     hint=f"{_a(what)} is a small text file; is this the right file?")


def _a(what: str) -> str:
    """`what` with its article: "a spec file", "an included file"."""
    return ("an " if what[0] in "aeiou" else "a ") + what


def not_utf8(path: Path, err: UnicodeDecodeError, notes: tuple[str, ...] = ()) -> SpecError:
    """Where a file stops being UTF-8 text, located like any other mistake."""
    before = err.object[:err.start].decode("utf-8", "replace")
    line = before.count("\n") + 1
    loc = Location(str(path), line, len(before) - before.rfind("\n"))
    return SpecError(f"the file is not UTF-8 text: byte 0x{err.object[err.start]:02x} here",
                     loc, hint="a spec is YAML text saved as UTF-8; is this the right file?",
                     notes=notes)
