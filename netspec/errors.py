"""The error ladder for users' mistakes, and how each is printed.

    NetspecError            a user-facing failure: exit status 1, one message, never a traceback
      SpecError             a mistake located in a YAML file (the spec, an include, a block)
      InputError            a file or data set the user named is wrong (an image, a CSV, a run)
      SetupError            a missing tool or device; the message says how to get it
      VerifyError           an exported model disagrees with torch, or a checkpoint is damaged

Every rung carries :class:`Diagnostic`s (a message, an optional location, a hint, the chain
of blocks), so all of them print alike, compiler style::

    specs/vgg.yaml:31:7: error: maxpool 'b5.pool' gets a 1x1 feature map; kernel 2 needs at least 2x2
      shape here: [512, 1, 1]
      hint: the input may be too small for 5 blocks; try `input: [3, 32, 32]` or drop a block
      in block vgg_block (specs/vgg.yaml:8:3), used at specs/vgg.yaml:31:7

Several independent diagnostics travel together in one error, so a user sees all of them at
once. Anything that is not a NetspecError (or a click usage error) escaping the CLI is our bug.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)     # one per key and value of a spec: keep them small
class Location:
    """A position in a YAML file; line and col are 1-based, as editors count."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class BlockUse:
    """One link of the chain of blocks a layer came from: block `name`, defined at
    `defined`, used at `used`."""

    name: str
    defined: Location | None
    used: Location | None

    def __str__(self) -> str:
        where = f" ({self.defined})" if self.defined else ""
        used = f", used at {self.used}" if self.used else ""
        return f"in block {self.name}{where}{used}"


@dataclass(frozen=True)
class Diagnostic:
    """One located mistake: what is wrong, extra facts, a hint, and the block chain."""

    message: str
    loc: Location | None = None
    hint: str | None = None
    notes: tuple[str, ...] = ()
    chain: tuple[BlockUse, ...] = ()

    def render(self) -> str:
        head = f"{self.loc}: error: {self.message}" if self.loc else f"error: {self.message}"
        lines = [head]
        lines += [f"  {note}" for note in self.notes]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        # innermost block first, as compilers print instantiation chains
        lines += [f"  {use}" for use in reversed(self.chain)]
        return "\n".join(lines)


class NetspecError(Exception):
    """Base of the ladder: one or more diagnostics, printed alike. Exit status 1."""

    diagnostics: list[Diagnostic]

    def __init__(self, message: str | list[Diagnostic] | Diagnostic, loc: Location | None = None,
                 hint: str | None = None, notes: tuple[str, ...] = (),
                 chain: tuple[BlockUse, ...] = ()):
        if isinstance(message, Diagnostic):
            diags = [message]
        elif isinstance(message, list):
            diags = list(message)
        else:
            diags = [Diagnostic(message, loc, hint, tuple(notes), tuple(chain))]
        self.diagnostics = diags
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.diagnostics == other.diagnostics

    __hash__ = Exception.__hash__

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    def with_chain(self, chain: tuple[BlockUse, ...]):
        """The same error seen from inside `chain` (outer blocks first)."""
        return type(self)([replace(d, chain=chain + d.chain) for d in self.diagnostics])


class SpecError(NetspecError):
    """A mistake located in a YAML file: the spec, an included file, a block."""


class InputError(NetspecError):
    """A file or data set the user named is wrong: an image, a CSV, an NPZ, a run directory,
    a flag's value."""


class SetupError(NetspecError):
    """Something the machine lacks: a program (graphviz's `dot`), a package, a device. The
    hint says how to get it."""


class VerifyError(NetspecError):
    """A result failed its own check: an exported model disagrees with torch, a checkpoint's
    checksum does not match."""


class Collector:
    """Gathers independent diagnostics so a user sees every mistake at once.

    Use `with collector.guard(): ...` around each independent piece of work; a SpecError
    raised inside is recorded and the work goes on with the next piece.
    """

    # "did you mean" compares a word with every choice (~1 ms): past this many, a spec of
    # thousands of misspellings is still reported whole, the later ones without a guess
    MAX_SUGGESTIONS = 200

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.suggested = 0

    def suggest(self, word: str, choices) -> str | None:
        """`did_you_mean`, while this collection has made fewer than MAX_SUGGESTIONS."""
        if self.suggested >= self.MAX_SUGGESTIONS:
            return None
        self.suggested += 1
        return did_you_mean(word, choices)

    def add(self, error: SpecError | Diagnostic) -> None:
        if isinstance(error, SpecError):
            self.diagnostics.extend(error.diagnostics)
        else:
            self.diagnostics.append(error)

    def guard(self) -> "_Guard":
        return _Guard(self)

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise SpecError(_in_file_order(_dedupe(self.diagnostics)))


class _Guard:
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, tb) -> bool:
        if isinstance(value, SpecError):
            self.collector.add(value)
            return True
        return False


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[Diagnostic] = set()
    out = []
    for d in diags:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _in_file_order(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Located diagnostics by position, as compilers print them; unlocated ones last."""
    def key(d: Diagnostic):
        return (0, d.loc.file, d.loc.line, d.loc.col) if d.loc else (1, "", 0, 0)
    return sorted(diags, key=key)


def did_you_mean(word: str, choices) -> str | None:
    """'did you mean `x`?' for the closest of `choices`, or None when nothing is close."""
    import difflib

    close = difflib.get_close_matches(str(word), sorted(map(str, choices)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
