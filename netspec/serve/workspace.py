"""The folder `netspec serve` was given: the only files the page may list, read and write.

    ws = Workspace("specs")
    ws.files()                                   # ["lenet5.yaml", "zoo/vgg.yaml", ...]
    opened = ws.read("lenet5.yaml")              # .text, .version
    ws.save("lenet5.yaml", text, opened.version) # atomic; Refused(409) if it changed on disk

A path from the page is a relative path inside the folder. Refused (a :class:`Refused` with
the HTTP status the page gets): an absolute path, a `..` component, a NUL, a name that is not
`.yaml`/`.yml`, a path whose real location (symlinks followed) leaves the folder, a hidden
component, and anything that is not a regular file (a device, a FIFO, a directory). A file's
version is `mtime_ns-size-sha256` of its bytes: a save names the version the page opened, and
is refused (409) when the file on disk is no longer that version, so an edit made elsewhere
since is never overwritten unseen.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from netspec.errors import NetspecError
from netspec.lang.files import MAX_BYTES
from netspec.safe_write import atomic_write, check_output

SUFFIXES = (".yaml", ".yml")
MAX_FILES = 5000          # listed: a folder holding more is listed up to here, then says so
SKIPPED_DIRS = {"node_modules", "__pycache__", "runs", "exported"}


class Refused(Exception):
    """A request the workspace will not serve: `status` is the HTTP status, `message` says
    why with the path, `hint` what to do."""

    def __init__(self, status: int, message: str, hint: str | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.hint, self.extra = status, message, hint, extra


@dataclass(frozen=True)
class Opened:
    """A file as read: its path (relative to the folder), text and version token."""

    path: str
    text: str
    version: str


def version_of(data: bytes, info: os.stat_result) -> str:
    """The version token of a file: `mtime_ns-size-sha256` (the hash catches an edit that
    kept the size within the clock's resolution)."""
    return f"{info.st_mtime_ns}-{info.st_size}-{hashlib.sha256(data).hexdigest()}"


class Workspace:
    """The served folder; every path the page sends goes through :meth:`resolve`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise NotADirectoryError(self.root)
        self._saving = threading.Lock()     # one save at a time: compare-then-write is atomic

    def resolve(self, rel: str | None, must_exist: bool = True) -> Path:
        """The real path of `rel` inside the folder, or Refused (see the module docstring)."""
        if not rel:
            raise Refused(400, "no file named: give ?path=NAME.yaml, relative to the folder",
                          hint="pick a file from the list")
        if "\0" in rel or "\\" in rel:
            raise Refused(403, f"{rel!r}: a path here has no NUL or backslash",
                          hint="give a path like specs/lenet5.yaml")
        if rel.startswith("/") or os.path.isabs(rel):
            raise Refused(403, f"{rel}: an absolute path; only files inside {self.root} are "
                          f"served", hint="give a path relative to the served folder")
        parts = Path(rel).parts
        if ".." in parts:
            raise Refused(403, f"{rel}: `..` would leave the served folder {self.root}",
                          hint="give a path inside the folder")
        if any(p.startswith(".") for p in parts):
            raise Refused(403, f"{rel}: hidden files and folders are not served",
                          hint="give a path without a component starting with `.`")
        if not rel.endswith(SUFFIXES):
            raise Refused(403, f"{rel}: only spec files (.yaml, .yml) are served",
                          hint="give the path of a .yaml file")
        real = Path(os.path.realpath(self.root / rel))
        if not real.is_relative_to(self.root):
            raise Refused(403, f"{rel} leads outside the served folder {self.root} (a "
                          f"symbolic link to {real})", hint="copy the file into the folder")
        try:
            mode = os.stat(real).st_mode
        except FileNotFoundError:
            if must_exist:
                raise Refused(404, f"{rel}: no such file in {self.root}",
                              hint="pick a file from the list") from None
            return real
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, " \
                "a FIFO or a socket)"
            raise Refused(403, f"{rel} is {what}", hint="give the path of a .yaml file")
        return real

    def relative(self, real: Path) -> str:
        return real.relative_to(self.root).as_posix()

    def files(self) -> dict:
        """{"root", "files": [relative paths of the *.yaml files, sorted], "truncated"}; hidden
        folders, runs/, exported/ and symbolic links leading out are left out."""
        found: list[str] = []
        for folder, dirs, names in os.walk(self.root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
            for n in sorted(names):
                if n.startswith(".") or not n.endswith(SUFFIXES):
                    continue
                real = Path(os.path.realpath(os.path.join(folder, n)))
                if real.is_relative_to(self.root) and real.is_file():
                    found.append(Path(folder, n).relative_to(self.root).as_posix())
                if len(found) >= MAX_FILES:
                    return {"root": str(self.root), "files": sorted(found), "truncated": True}
        return {"root": str(self.root), "files": sorted(found), "truncated": False}

    def read(self, rel: str) -> Opened:
        """The file's text and version; Refused when it is not one to serve or not text."""
        real = self.resolve(rel)
        data, info = _read_bytes(real, rel)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise Refused(415, f"{rel} is not UTF-8 text (byte {err.start})",
                          hint="a spec is a UTF-8 YAML file") from None
        return Opened(self.relative(real), text, version_of(data, info))

    def current_version(self, real: Path, rel: str) -> str | None:
        """The version of the file on disk now, None when there is none."""
        try:
            data, info = _read_bytes(real, rel)
        except Refused as refused:
            if refused.status == 404:
                return None
            raise
        return version_of(data, info)

    def save(self, rel: str, text: str, version: str | None) -> Opened:
        """Write `text` atomically (a temporary file beside it, then a rename) when the file
        on disk is still `version` (None: a new file that must not exist yet); else 409."""
        raw = text.encode("utf-8")
        if len(raw) > MAX_BYTES:
            raise Refused(413, f"{rel}: {len(raw):,} bytes, above the {MAX_BYTES:,} a spec may "
                          f"have", hint="split the spec with `include:`")
        real = self.resolve(rel, must_exist=False)
        with self._saving:
            now = self.current_version(real, rel)
            if now != version:
                said = "was created" if version is None else \
                    "was deleted" if now is None else "changed"
                raise Refused(409, f"{rel} {said} on disk since you opened it; not saved",
                              hint="reload it to see the other edit (copy yours first), or "
                                   "save under another name", current=now)
            try:
                atomic_write(check_output(real, f"the spec {rel}"), raw, durable=True)
            except NetspecError as err:
                raise Refused(403, err.first.message, hint=err.first.hint) from None
            data, info = _read_bytes(real, rel)
        return Opened(self.relative(real), text, version_of(data, info))


def _read_bytes(real: Path, rel: str) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most MAX_BYTES, opened without blocking, and its
    stat; Refused otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(real, flags)
    except FileNotFoundError:
        raise Refused(404, f"{rel}: no such file", hint="pick a file from the list") from None
    except OSError as err:
        raise Refused(403, f"cannot read {rel}: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(403, f"{rel} is not a regular file", hint="give a .yaml file")
        if info.st_size > MAX_BYTES:
            raise Refused(413, f"{rel}: {info.st_size:,} bytes, above the {MAX_BYTES:,} a "
                          f"spec may have", hint="split the spec with `include:`")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    return data, info
