"""What the adversarial suites (tests/test_adversarial_*.py) share: running the CLI in this
process and asserting the promise of DESIGN §9 on whatever it was given:

- the command ends with exit 0 or 1 (2 for command misuse where a case says so), never a
  traceback: click's runner keeps any exception that escaped, which is our bug;
- nothing is written outside the named outputs, and no existing file changes unless it is
  one of them (a snapshot of the folder before and after).
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zlib
from pathlib import Path

from click.testing import CliRunner

from netspec.cli.main import main

# a small network on 4 features (npz, csv) and one on 1x8x8 images (idx, image folders)
FEATURES_SPEC = """name: tiny
input: [4]
layers:
  - linear: 3
train:
  data: {{{source}, val: 0.2, test: 0.2}}
  epochs: 1
  batch_size: 8
{extra}"""

IMAGES_SPEC = """name: tinyimg
input: [1, 8, 8]
layers:
  - flatten
  - linear: 3
train:
  data: {{{source}, val: 0.2, test: 0.2}}
  epochs: 1
  batch_size: 8
{extra}"""


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root`: (kind, size, sha256 of a regular file's content)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = (stat.S_IFMT(info.st_mode), info.st_size, digest)
    return out


def changes(before: dict, after: dict) -> set[str]:
    """Paths added, removed or changed between two snapshots."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def invoke(args, root: Path | None = None, allowed: tuple[str, ...] = (),
           codes: tuple[int, ...] = (0, 1)):
    """Run `netspec ARGS` in this process and check the promise; `allowed` are the paths
    (relative to `root`, or prefixes ending in `/`) the command may write."""
    before = snapshot(root) if root is not None else None
    result = CliRunner().invoke(main, [str(a) for a in args])
    output = result.output
    assert "Traceback" not in output, output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), \
            f"{args}: {type(result.exception).__name__}: {result.exception}\n{output}"
    assert result.exit_code in codes, f"{args}: exit {result.exit_code}\n{output}"
    if root is not None:
        stray = {p for p in changes(before, snapshot(root))
                 if not any(p == a or (a.endswith("/") and p.startswith(a)) or
                            p + "/" == a for a in allowed)}
        assert not stray, f"{args} wrote or changed {sorted(stray)}\n{output}"
    return result


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header says width x height (8-bit grey) with almost no pixel data: what a
    decompression bomb looks like to a reader that trusts the header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def idx_bytes(type_code: int, dims: list[int], data: bytes) -> bytes:
    """An IDX file: magic 00 00 TT NN, big-endian dims, data."""
    return bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) \
        + data
