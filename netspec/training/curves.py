"""Training figures: curves.png of a run, and the generic `plot_curves` other tasks call.

One panel per metric (the loss first, the learning rate last), train dashed and validation
solid in the same two colours on every panel, the loss on a log scale, the best epoch a
vertical line, the chance level dotted, the test value (measured with the best epoch's weights)
a star at the best epoch. A diverged epoch never flattens the rest: each panel's y-range is cut
to the bulk of its values (see `robust_limits`), and the points outside it are drawn as
triangles on the edge, with the count in the panel's title.

Columns map to panels by name: `train_X` / `val_X` / `test_X` are the series of panel X;
`d_loss`, `g_loss` (any `*_loss` without a split) share the `loss` panel; any other numeric
column (`fid`) is a panel of its own; `lr` is the learning-rate panel; `epoch`, `time` are not
plotted. matplotlib's object API only: no pyplot state, the user's backend untouched.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from netspec.training.checkpoint import atomic_write

SPLITS = ("train", "val", "test")
NOT_PLOTTED = {"epoch", "time", "step"}
LR = "lr"
STYLE = {"train": ("tab:blue", "--"), "val": ("tab:orange", "-")}
OTHER_COLOURS = ("tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


@dataclass(frozen=True)
class Panel:
    """What one panel shows: its series (label -> column), y-range, scale, clipped points."""

    name: str
    series: tuple[tuple[str, str], ...]
    ylim: tuple[float, float]
    log: bool
    clipped: int


@dataclass(frozen=True)
class Curves:
    """The layout plot_curves drew (for tests and callers; the PNG is at `path`)."""

    path: Path
    panels: tuple[Panel, ...]

    def panel(self, name: str) -> Panel:
        return next(p for p in self.panels if p.name == name)


def panel_of(column: str) -> tuple[str, str] | None:
    """(panel, series label) of a history column, or None when it is not plotted.

    >>> panel_of("val_accuracy"), panel_of("g_loss"), panel_of("fid"), panel_of("epoch")
    (('accuracy', 'val'), ('loss', 'g'), ('fid', 'fid'), None)
    """
    if column in NOT_PLOTTED:
        return None
    if column == LR:
        return (LR, LR)
    split, _, rest = column.partition("_")
    if split in SPLITS and rest:
        return (rest, split)
    if column.endswith("_loss"):
        return ("loss", column[: -len("_loss")])
    return (column, column)


def robust_limits(series: Sequence[Sequence[float | None]], log: bool = False,
                  keep: Sequence[float] = ()) -> tuple[float, float]:
    """The y-range that shows the bulk of a panel's values (each series in epoch order; in
    log10 when `log`): the bulk is the 10th to 90th percentile; values beyond it by more than
    FENCE times its spread (and by at least half a decade on a log scale, a quarter of the
    median's size on a linear one) are cut. The first fifth of every series (at least two
    epochs: the first epochs' descent is the data, not a spike) and `keep` (chance, test)
    always stay in range. Non-finite values are left out (the plot marks them off scale).
    5 % margins.

    >>> robust_limits([[1.0, 0.8, 0.6, 0.5, 0.45, 1e6, 0.4, 0.38]])[1] < 2
    True
    >>> robust_limits([[0.3, 0.95, 0.97, 0.98, 0.98, 0.99]])     # a fast learner: nothing cut
    (0.2655, 1.0245)
    """
    kept = [_scaled(v, log) for v in keep if _usable(v, log)]
    values = []
    for values_of in series:
        values += [_scaled(v, log) for v in values_of if _usable(v, log)]
        head = max(2, len(values_of) // 5)
        kept += [_scaled(v, log) for v in values_of[:head] if _usable(v, log)]
    vs = sorted(values)
    if not vs and not kept:
        return (0.1, 10.0) if log else (0.0, 1.0)
    lo, hi = _fences(vs, log) if vs else (min(kept), max(kept))
    inside = [v for v in vs if lo <= v <= hi] + kept
    lo, hi = min(inside), max(inside)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 0.5
    lo, hi = round(lo - pad, 12), round(hi + pad, 12)
    return (10 ** lo, 10 ** hi) if log else (lo, hi)


FENCE = 2.0


def _quantile(sorted_values: list[float], q: float) -> float:
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _fences(vs: list[float], log: bool) -> tuple[float, float]:
    """(low, high) beyond which a sorted value is a spike (see robust_limits)."""
    q10, q90 = _quantile(vs, 0.1), _quantile(vs, 0.9)
    least = 0.5 if log else 0.25 * abs(_quantile(vs, 0.5))
    reach = max(FENCE * (q90 - q10), least)
    return q10 - reach, q90 + reach


def _usable(v: Any, log: bool) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or not log)


def _scaled(v: float, log: bool) -> float:
    return math.log10(v) if log else float(v)


def _panels(history: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """panel -> [(series label, column)], the loss first, the learning rate last."""
    panels: dict[str, list[tuple[str, str]]] = {}
    for row in history:
        for column, value in row.items():
            where = panel_of(column)
            if where is None or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            series = panels.setdefault(where[0], [])
            if (where[1], column) not in series:
                series.append((where[1], column))
    order = sorted(panels, key=lambda p: (p != "loss", p == LR, p))
    return {p: sorted(panels[p], key=lambda s: (s[0] not in STYLE, s[0] != "train", s[0]))
            for p in order}


def plot_curves(history: list[dict], path: str | Path, *,
                chance: dict[str, float] | None = None, test: dict[str, float] | None = None,
                best_epoch: int | None = None,
                log_keys: set[str] = frozenset({"loss"})) -> Curves:
    """Draw `history` (one dict per epoch: `epoch` and columns) to the PNG at `path`.

    chance      panel -> chance level (dotted line): {"accuracy": 1 / classes}
    test        panel -> the test value, starred at `best_epoch` (or the last epoch)
    best_epoch  the epoch whose weights were kept (a vertical line on every panel)
    log_keys    panels drawn on a log scale when all their values are positive (the learning
                rate stays linear: a cosine schedule's last steps would fill a log axis)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chance, test = chance or {}, test or {}
    panels = _panels(history)
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    cols = min(max(len(panels), 1), 3)
    rows = max(math.ceil(len(panels) / cols), 1)
    fig = Figure(figsize=(4.0 * cols, 3.0 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    drawn = []
    for ax, (name, series) in zip(axes, panels.items()):
        extra = [v for v in (chance.get(name), test.get(name)) if v is not None]
        drawn.append(_draw_panel(ax, name, series, history, epochs, extra,
                                 name in log_keys, chance.get(name),
                                 test.get(name), best_epoch))
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if not panels:
        axes[0].text(0.5, 0.5, "no epochs recorded", ha="center", va="center")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write(Path(path), buf.getvalue(), durable=False)
    return Curves(Path(path), tuple(drawn))


def _draw_panel(ax, name, series, history, epochs, extra, want_log, chance, test,
                best_epoch) -> Panel:
    from matplotlib.ticker import MaxNLocator

    columns = {label: [row.get(column) for row in history] for label, column in series}
    finite = [v for vs in columns.values() for v in vs
              if isinstance(v, (int, float)) and math.isfinite(v)] + extra
    log = want_log and bool(finite) and all(v > 0 for v in finite)
    lo, hi = robust_limits(list(columns.values()), log, extra)
    clipped = 0
    many = len(epochs) > 30
    for i, (label, values) in enumerate(columns.items()):
        colour, dash = STYLE.get(label, (OTHER_COLOURS[i % len(OTHER_COLOURS)], "-"))
        ys = [float("nan") if v is None or not math.isfinite(v) else v for v in values]
        ax.plot(epochs, ys, dash, color=colour, marker=None if many else "o", markersize=3,
                linewidth=1.4, label=label if name != LR else None)
        clipped += _mark_clipped(ax, epochs, values, lo, hi, colour)
    if chance is not None:
        ax.axhline(chance, color="black", linestyle=":", linewidth=1.2, label="chance")
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.45", linestyle=":", linewidth=1.0,
                   label=f"best (epoch {best_epoch})")
    if test is not None and math.isfinite(test):
        at = best_epoch if best_epoch is not None else epochs[-1]
        ax.plot([at], [test], "*", color="tab:red", markersize=11, zorder=5,
                label=f"test {test:.4g}")
    if log:
        _log_axis(ax, lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    title = "learning rate" if name == LR else name
    ax.set_title(title + (f"  ({clipped} off scale)" if clipped else ""), fontsize=10)
    ax.grid(alpha=0.3, which="both" if log else "major")
    if ax.get_legend_handles_labels()[0] and name != LR:
        ax.legend(fontsize=7, loc="best")
    return Panel(name, tuple(series), (lo, hi), log, clipped)


def _log_axis(ax, lo: float, hi: float) -> None:
    """A log y-axis whose ticks read as numbers: within one decade every 1..9 tick is
    labelled, within two the 1-2-5 ticks (a loss going from 1.8 to 0.55 otherwise shows a
    single label)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    plain = FuncFormatter(lambda y, _: f"{y:.3g}")
    decades = math.log10(hi / lo)
    if decades < 2:
        subs = tuple(range(1, 10)) if decades < 1 else (1.0, 2.0, 5.0)
        ax.yaxis.set_major_locator(LogLocator(subs=subs))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(NullFormatter())


def _mark_clipped(ax, epochs, values, lo, hi, colour) -> int:
    """Triangles on the panel's edge where a value is beyond the y-range (NaN and inf above)."""
    above = [e for e, v in zip(epochs, values) if v is not None and not (v <= hi)]
    below = [e for e, v in zip(epochs, values) if v is not None and v < lo]
    if above:
        ax.plot(above, [hi] * len(above), "^", color=colour, markersize=8, clip_on=False,
                zorder=6)
    if below:
        ax.plot(below, [lo] * len(below), "v", color=colour, markersize=8, clip_on=False,
                zorder=6)
    return len(above) + len(below)


def plot_run(run: Any, history: list[dict]) -> Curves | None:
    """curves.png of a run directory: the best epoch and the test values from its
    summary.json, the chance level of accuracy (1 / classes) from its data.json labels."""
    if not history:
        return None
    summary = _read(run, "summary.json") or {}
    data = _read(run, "data.json") or {}
    labels = data.get("labels") if isinstance(data, dict) else None
    chance = {"accuracy": 1 / len(labels)} if isinstance(labels, list) and labels else None
    best = summary.get("best") if isinstance(summary, dict) else None
    best_epoch = best.get("epoch") if isinstance(best, dict) else None
    test = summary.get("test") if isinstance(summary, dict) else None
    test = {k: v for k, v in test.items() if isinstance(v, (int, float))} \
        if isinstance(test, dict) else None
    return plot_curves(history, run.file("curves.png"), chance=chance, test=test,
                       best_epoch=best_epoch if isinstance(best_epoch, int) else None)


def _read(run: Any, name: str) -> Any:
    """A JSON file of the run, or None when it is not there (yet) or unreadable."""
    if not run.file(name).is_file():
        return None
    try:
        return run.read_json(name)
    except Exception:           # noqa: BLE001 - a figure never fails a run for its notes
        return None
