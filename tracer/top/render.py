"""Pure rendering of a dashboard Snapshot: render(snapshot, width, height) -> a
rich renderable exactly that size, no I/O and no clock."""

from __future__ import annotations

import time as _time
from typing import List, Optional, Tuple

from rich import box
from rich.console import Group, RenderableType
from rich.layout import Layout
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tracer.top.snapshot import Snapshot, TopTable

SPARK = " ▁▂▃▄▅▆▇█"

WIDE = 160  # from this width the four top tables sit side by side
HEADER_H = 2
LOSS_H = 5


def visible(value: str) -> str:
    """Text a traced process controls, safe to show: control characters (C0, DEL, C1: what makes
    a terminal act), format characters (bidi overrides, zero-width) and bytes that were not
    UTF-8 (surrogate escapes) written as \\xNN or \\uNNNN; a backslash as \\\\ so that the
    forms cannot be forged."""
    if value.isprintable() and "\\" not in value:
        return value
    out = []
    for ch in value:
        cp = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= cp <= 0xDCFF:  # a byte surrogateescape could not decode
            out.append(f"\\x{cp - 0xDC00:02x}")
        elif cp < 0x20 or 0x7F <= cp < 0xA0:
            out.append(f"\\x{cp:02x}")
        elif ch != " " and not ch.isprintable():
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
        else:
            out.append(ch)
    return "".join(out)


def inert(value: str, style: str = "") -> Text:
    """`value` as plain text: never read as rich markup, its control characters made visible."""
    return Text(visible(value), style)


def render(snap: Snapshot, width: int, height: int) -> RenderableType:
    """The whole screen for a terminal of width x height."""
    columns = 4 if width >= WIDE else 2
    grid_rows = 4 // columns
    rest = max(0, height - HEADER_H - LOSS_H)
    tail_h = max(7, int(rest * 0.4))
    rows = max(1, min(15, (rest - tail_h) // grid_rows - 2))
    tables_h = grid_rows * (rows + 2)
    tail_h = max(3, rest - tables_h)

    tables = [snap.syscalls, snap.processes, snap.auids, snap.keys]
    grid = Layout(name="tables", size=tables_h)
    lines = [Layout(name=f"row{i}") for i in range(grid_rows)]
    grid.split_column(*lines)
    for i, line in enumerate(lines):
        line.split_row(*[
            Layout(render_top(t, rows, snap.sort, width // columns))
            for t in tables[i * columns:(i + 1) * columns]
        ])

    root = Layout()
    root.split_column(
        Layout(render_header(snap, width), name="header", size=HEADER_H),
        Layout(render_losses(snap, width), name="losses", size=LOSS_H),
        grid,
        Layout(render_tail(snap, tail_h - 2, width), name="tail", size=tail_h),
    )
    return root


# --- header ---------------------------------------------------------------

def fmt_duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def sparkline(values: Tuple[int, ...], width: int) -> str:
    """One character per second, or per group of seconds when narrow (max)."""
    if width <= 0 or not values:
        return ""
    group = -(-len(values) // width)  # ceil
    if group > 1:
        values = tuple(max(values[i:i + group]) for i in range(len(values) % group, len(values), group))
    top = max(values) or 1
    # zero is blank; anything else gets at least the lowest bar
    return "".join(SPARK[max(1, -(-v * (len(SPARK) - 1) // top))] if v else SPARK[0]
                   for v in values)


def _fit(left: Text, right: Text, width: int) -> Text:
    """left, padded, then right flush with the edge; left is cut first."""
    room = max(0, width - right.cell_len - 1)
    left = left.copy()
    left.truncate(room, overflow="ellipsis")
    left.pad_right(max(0, width - left.cell_len - right.cell_len))
    return left + right


def render_header(snap: Snapshot, width: int) -> RenderableType:
    state = ""
    if snap.paused:
        state = " PAUSED"
    elif snap.finished:
        state = f" {snap.finished}"
    line1 = Text.assemble(
        ("bpfaudit top", "bold"),
        (state, "bold yellow"),
        ("  rules ", "dim"), (visible(snap.rules or "n/a"), "cyan"),
        ("  via ", "dim"), (visible(snap.transport or "n/a"), "cyan"),
    )
    line1 = _fit(line1, Text.assemble(("up ", "dim"), fmt_duration(snap.uptime)), width)

    failed_pct = 100.0 * snap.failures / snap.events if snap.events else 0.0
    left = Text.assemble(
        ("events/s ", "dim"), (f"{snap.rate_now:,.0f}", "bold"),
        ("  total ", "dim"), f"{snap.events:,}",
        ("  failed ", "dim"), (f"{snap.failures:,} ({failed_pct:.0f}%)",
                               "red" if snap.failures else ""),
    )
    label = Text(" last 60 s ", "dim")
    spark_w = min(60, max(0, width - left.cell_len - label.cell_len - 1))
    if spark_w < 10:  # too narrow for a readable line: drop it
        line2 = _fit(left, Text(""), width)
    else:
        line2 = _fit(left, label + Text(sparkline(snap.sparkline, spark_w), "green"), width)
    return Group(line1, line2)


# --- top tables -----------------------------------------------------------

def fmt_rate(rate: float) -> str:
    if rate >= 100:
        return f"{rate:,.0f}"
    return f"{rate:.1f}"


def render_top(table: TopTable, rows: int, sort: str, width: int) -> RenderableType:
    narrow = width < 60
    t = Table(
        title=Text(table.title, "bold"),
        title_justify="left",
        box=None,
        padding=(0, 1),
        expand=True,
        header_style="dim",
    )
    for col in table.columns:
        # the last text column (exe, key, user) takes the slack
        if col in ("pid", "auid"):
            t.add_column(col, no_wrap=True, justify="right", min_width=5)
        elif col == "comm":
            t.add_column(col, no_wrap=True, overflow="ellipsis", max_width=10 if narrow else 16)
        else:
            t.add_column(col, no_wrap=True, overflow="ellipsis", ratio=1)
    count_h = "count▼" if sort == "count" else "count"
    rate_h = "/s▼" if sort == "rate" else "/s"
    t.add_column(count_h, justify="right", no_wrap=True)
    t.add_column(rate_h, justify="right", no_wrap=True, min_width=5)
    shown = table.rows[: rows - 1] if table.other and len(table.rows) >= rows else table.rows[:rows]
    for row in shown:
        t.add_row(*(inert(str(c)) for c in row.cells), f"{row.count:,}", fmt_rate(row.rate))
    if table.other:
        blanks = [""] * (len(table.columns) - 1)
        t.add_row(*blanks, Text("(other)", "dim"), Text(f"{table.other:,}", "dim"), "")
    return t


# --- losses ---------------------------------------------------------------

SHORT_NAMES = {
    "BPF submit failed": "bpf submit",
    "ring buffer lost": "ring lost",
    "user-space dropped": "user drop",
    "sequence gaps": "seq gaps",
    "stash full + malformed": "other lost",
}


def _count(value: Optional[int]) -> str:
    return "n/a" if value is None else f"{value:,}"


def render_losses(snap: Snapshot, width: int) -> RenderableType:
    narrow = width < WIDE
    # numbers are right-aligned: a space on the left separates the columns
    t = Table(box=None, padding=(0, 0, 0, 1), expand=True, header_style="dim", pad_edge=False)
    cells_total: List[Text] = []
    cells_rate: List[Text] = []
    for c in snap.losses:
        name = SHORT_NAMES.get(c.name, c.name) if narrow else c.name
        t.add_column(name, justify="right", no_wrap=True, overflow="ellipsis", ratio=1)
        style = "bold red" if c.losing else ("yellow" if c.total else "")
        cells_total.append(Text(_count(c.total), style))
        cells_rate.append(Text("" if c.total is None else f"+{fmt_rate(c.rate)}/s", style))
    k = snap.kaudit
    t.add_column("audit lost" if narrow else "kernel audit lost", justify="right",
                 no_wrap=True, overflow="ellipsis", ratio=1, header_style="dim cyan")
    t.add_column("backlog" if narrow else "kernel audit backlog", justify="right",
                 no_wrap=True, overflow="ellipsis", ratio=1, header_style="dim cyan")
    if k.available:
        kstyle = "bold red" if k.losing else ""
        cells_total.append(Text(_count(k.lost), kstyle))
        cells_rate.append(Text(f"+{fmt_rate(k.lost_rate)}/s", kstyle))
        limit = f"/{k.backlog_limit:,}" if k.backlog_limit is not None else ""
        cells_total.append(Text(f"{_count(k.backlog)}{limit}"))
        cells_rate.append(Text("" if k.enabled else "audit off", "dim"))
    else:
        cells_total += [Text("n/a", "dim"), Text("n/a", "dim")]
        cells_rate += [Text(k.reason[:24], "dim"), Text("")]
    t.add_row(*cells_total)
    t.add_row(*cells_rate)

    ours_lost = any(c.total for c in snap.losses)
    if snap.losing:
        border, status = "red", Text(" LOSING RECORDS ", "bold white on red")
    elif ours_lost:
        border, status = "yellow", Text(" records were lost earlier ", "yellow")
    elif all(c.total is None for c in snap.losses) and not k.available:
        border, status = "dim", Text(" no loss counters in this source ", "dim")
    else:
        border, status = "green", Text(" no loss ", "green")
    title = Text.assemble(("losses", "bold"), " ", status)
    subtitle = None
    if snap.emitted is not None or snap.delivered is not None:
        subtitle = Text(f"emitted {_count(snap.emitted)} · delivered {_count(snap.delivered)}", "dim")
    return Panel(t, title=title, title_align="left", subtitle=subtitle,
                 subtitle_align="right", border_style=border, box=box.ROUNDED, padding=(0, 0))


# --- tail -----------------------------------------------------------------

def fmt_time(t: float, precise: bool) -> str:
    lt = _time.localtime(t)
    s = _time.strftime("%H:%M:%S", lt)
    return f"{s}.{int((t % 1) * 1000):03d}" if precise else s


def render_tail(snap: Snapshot, rows: int, width: int) -> RenderableType:
    wide = width >= 120
    keys = Text.assemble(
        ("q", "bold"), " quit  ", ("p", "bold"), " pause  ", ("s", "bold"),
        f" sort by {'rate' if snap.sort == 'count' else 'count'}", style="dim")
    title = _fit(Text("latest records", "bold"), keys, width)
    t = Table(box=None, padding=(0, 1), expand=True, header_style="dim", pad_edge=False,
              show_edge=False)
    t.add_column("time", no_wrap=True, width=12 if wide else 8)
    t.add_column("auid", no_wrap=True, overflow="ellipsis", max_width=12 if wide else 7)
    t.add_column("pid", no_wrap=True, justify="right", min_width=5)
    t.add_column("comm", no_wrap=True, overflow="ellipsis", max_width=16 if wide else 10)
    t.add_column("syscall", no_wrap=True, overflow="ellipsis", max_width=16 if wide else 10)
    t.add_column("result", no_wrap=True, overflow="ellipsis", max_width=14 if wide else 12)
    t.add_column("path", no_wrap=True, overflow="ellipsis", ratio=1, min_width=8)
    for r in snap.tail[-rows:] if rows > 0 else ():
        t.add_row(
            fmt_time(r.time, wide), inert(r.auid), str(r.pid), inert(r.comm), inert(r.syscall),
            Text(visible(r.result), "bold red" if not r.success else "green"), inert(r.path),
            style="red" if not r.success else None,
        )
    return Group(title, t)
