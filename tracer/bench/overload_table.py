"""S5's tables, built from its report alone (pure): latency per configuration, bpfaudit's loss
ledger and kernel audit's backlog."""

from __future__ import annotations

from typing import Dict, List, Optional

from rich.table import Table

from tracer.bench.table import fmt_ns, fmt_x


def _count(v: Optional[int]) -> str:
    return "-" if v is None else f"{v:,}"


def _row_note(row: Dict) -> str:
    parts = []
    ledger = row.get("ledger")
    if ledger:
        share = ledger["lost"] / ledger["emitted"] if ledger["emitted"] else 0
        parts.append(f"{ledger['delivered']:,} records decoded, {ledger['lost']:,} lost ({share:.0%})")
        if not ledger["lost"]:
            # 3x a ceiling measured under other load can be within the consumer's reach
            parts.append("nothing lost: not an overload for this consumer")
    if row.get("job_wall_ms"):
        parts.append(f"consumer CPU {row['consumer_cpu_ms'] / row['job_wall_ms']:.0%} of a core")
    status = row.get("kaudit_status")
    if status:
        parts.append(f"backlog max {_count(status.get('backlog_max'))}/{_count(status['after'].get('backlog_limit'))}"
                     f", waited {fmt_ns(status.get('backlog_wait_ms'))} ms, lost {_count(status.get('lost_delta'))}")
    if "auditd_records" in row:
        parts.append(f"auditd logged {row['auditd_records']:,} of {row['calls']:,} calls")
    before, after = row.get("foreign_tracers", 0), row.get("foreign_tracers_after", 0)
    if before or after:
        parts.append(f"other syscall programs attached: {before} before, {after} after the run")
    return "; ".join(parts)


def latency_table(s: Dict) -> Table:
    t = Table(title=f"{s['title']}: workload syscall latency (ns per getppid, every call timed)",
              title_justify="left")
    for col in ("configuration", "achieved /s", "calls", "p50", "p90", "p99", "p99.9", "max", "p50 x bare",
                "p99 x bare", "notes"):
        t.add_column(col, justify="left" if col in ("configuration", "notes") else "right", overflow="fold")
    for r in s["rows"]:
        lat = r["latency_ns"]
        t.add_row(r["name"], fmt_ns(r["achieved_per_s"]), _count(r["calls"]), fmt_ns(lat["p50"]),
                  fmt_ns(lat["p90"]), fmt_ns(lat["p99"]), fmt_ns(lat["p999"]), fmt_ns(lat["max"]),
                  fmt_x(r.get("p50_x_bare")), fmt_x(r.get("p99_x_bare")), _row_note(r))
    return t


def ledger_table(row: Dict) -> Table:
    led = row["ledger"]
    t = Table(title=f"S5 {row['name']} loss ledger (after detach and drain)", title_justify="left")
    cols = ("emitted", "delivered", "bpf_submit_failed", "perf_lost", "userspace_dropped", "seq_gaps",
            "malformed", "lost", "emitted = delivered + lost")
    for col in cols:
        t.add_column(col, justify="right")
    exact = "yes" if led["exact"] else f"NO ({led['unaccounted']:+,})"
    t.add_row(*(_count(led[c]) for c in cols[:-1]), exact)
    return t


def backlog_table(row: Dict) -> Table:
    st = row["kaudit_status"]
    b, a = st["before"], st["after"]
    hz = f", HZ {st['hz']}" if st.get("hz") else ""
    t = Table(title=f"S5 {row['name']}: `auditctl -s` before -> after, backlog sampled every 20 ms "
                    f"(wait times in jiffies{hz})",
              title_justify="left")
    for col in ("lost", "lost delta", "backlog max", "samples at the limit", "backlog_limit",
                "backlog_wait_time", "backlog_wait_time_actual", "waited"):
        t.add_column(col, justify="right")
    waited = "-" if st.get("backlog_wait_ms") is None else f"{st['backlog_wait_ms'] / 1000:,.1f} s"
    t.add_row(f"{_count(b.get('lost'))} -> {_count(a.get('lost'))}", _count(st.get("lost_delta")),
              _count(st.get("backlog_max")), f"{st['backlog_full_samples']:,}/{st['backlog_samples']:,}",
              _count(a.get("backlog_limit")), _count(a.get("backlog_wait_time")),
              f"{_count(b.get('backlog_wait_time_actual'))} -> {_count(a.get('backlog_wait_time_actual'))}",
              waited)
    return t


def overload_tables(s: Dict) -> List[Table]:
    out = [latency_table(s)]
    out += [ledger_table(r) for r in s["rows"] if r.get("ledger")]
    out += [backlog_table(r) for r in s["rows"] if r.get("kaudit_status")]
    return out
