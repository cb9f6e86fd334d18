#!/usr/bin/env python3
"""Write bench/REPORT.md with tables and PNG plots from the benchmarks' results (`make bench`).

Reads results/*.json (each benchmark's own file, and run_all.json when the
set was run by bench/run_all.py), writes REPORT.md next to this file and one
PNG per figure in figures/. Every figure states the machine facts it was
measured on (cores, fsync p50/p99, loopback RTT) and its same-run baseline. A
benchmark whose results are missing, or older than a plot needs, is reported
as not measured; the report itself never fails on missing data. Without
matplotlib (pip install -e '.[bench]') it writes the tables alone.

    python bench/report.py [--results DIR] [--report FILE] [--figures DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOT_MEASURED = "_Not measured in this run"
PHASES = ("creates", "gets", "lists")


# -- reading results ---------------------------------------------------------------------------------------


def load_results(folder: Path) -> tuple[dict[str, Any], list[str]]:
    """{benchmark name: its JSON} for every readable results file, and a note per unreadable one."""
    results: dict[str, Any] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            results[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            problems.append(f"{path.name}: unreadable ({type(err).__name__})")
    return results, problems


def dig(data: Any, *keys: str | int) -> Any:
    """data[k1][k2]…, or None as soon as a level is missing or of the wrong kind."""
    for key in keys:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def num(value: Any) -> float | None:
    """A finite number, or None (JSON null, NaN, strings and the like)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: Any, digits: int = 1) -> str:
    x = num(value)
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def chaos_runs(data: Any) -> list[dict[str, Any]]:
    """chaos.json holds one run, or {"runs": [...]} for the quorum comparison."""
    if not isinstance(data, dict):
        return []
    runs = data.get("runs") if "runs" in data else [data]
    return [r for r in runs or [] if isinstance(r, dict)]


# -- machine facts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """What a figure was measured on; fields missing from its benchmark come from run_all's run-start facts."""

    cores: int | None = None
    fsync_p50_ms: float | None = None
    fsync_p99_ms: float | None = None
    fsync_what: str = "disk fsync"
    rtt_p50_us: float | None = None
    rtt_p99_us: float | None = None
    borrowed: tuple[str, ...] = ()  # fields taken from the run's start rather than this benchmark's run

    def caption(self) -> str:
        parts = [f"{self.cores} cores" if self.cores else "cores not recorded"]
        if self.fsync_p50_ms is not None:
            parts.append(f"{self.fsync_what} p50/p99 {fmt(self.fsync_p50_ms, 2)}/{fmt(self.fsync_p99_ms, 2)} ms")
        else:
            parts.append("fsync not recorded")
        if self.rtt_p50_us is not None:
            parts.append(f"loopback RTT p50/p99 {fmt(self.rtt_p50_us)}/{fmt(self.rtt_p99_us)} µs")
        else:
            parts.append("loopback RTT not recorded")
        text = "Machine: " + ", ".join(parts)
        if self.borrowed:
            text += f" ({' and '.join(self.borrowed)} measured at the start of the run by run_all)"
        return text


def machine_fields(m: Any) -> dict[str, Any]:
    """The facts a benchmark's "machine" object holds, in either of the two shapes the benchmarks write."""
    if not isinstance(m, dict):
        return {}
    out: dict[str, Any] = {}
    if num(m.get("cores")) is not None:
        out["cores"] = int(m["cores"])
    if num(dig(m, "etcd_fsync", "p50_ms")) is not None:
        out.update(fsync_p50_ms=num(dig(m, "etcd_fsync", "p50_ms")), fsync_p99_ms=num(dig(m, "etcd_fsync", "p99_ms")),
                   fsync_what="etcd put (fsync proxy)")
    elif num(dig(m, "fsync_ms", "p50")) is not None:
        out.update(fsync_p50_ms=num(dig(m, "fsync_ms", "p50")), fsync_p99_ms=num(dig(m, "fsync_ms", "p99")),
                   fsync_what="disk fsync")
    if num(dig(m, "loopback_rtt", "p50_us")) is not None:
        out.update(rtt_p50_us=num(dig(m, "loopback_rtt", "p50_us")), rtt_p99_us=num(dig(m, "loopback_rtt", "p99_us")))
    elif num(dig(m, "loopback_rtt_us", "p50")) is not None:
        out.update(rtt_p50_us=num(dig(m, "loopback_rtt_us", "p50")), rtt_p99_us=num(dig(m, "loopback_rtt_us", "p99")))
    return out


def machine_of(own: Any, fallback: Any = None) -> Machine:
    """The benchmark's own facts, completed with the run-start facts (run_all.json's "machine")."""
    mine = machine_fields(own)
    spare = machine_fields(fallback)
    borrowed: list[str] = []
    for key, label in (("cores", "cores"), ("fsync_p50_ms", "fsync"), ("rtt_p50_us", "loopback RTT")):
        if key not in mine and key in spare:
            borrowed.append(label)
            group = {"cores": ("cores",), "fsync_p50_ms": ("fsync_p50_ms", "fsync_p99_ms", "fsync_what"),
                     "rtt_p50_us": ("rtt_p50_us", "rtt_p99_us")}[key]
            mine.update({k: spare[k] for k in group if k in spare})
    return Machine(**mine, borrowed=tuple(b for b in borrowed if b != "cores"))


# -- derived figures (pure) -------------------------------------------------------------------------------


def cdf_from_summary(summary: Any, scale: float = 1.0) -> list[list[float]]:
    """CDF points from a percentile summary ({p50, p90, p99, max} in any of the benchmarks' spellings).

    Older results carry percentiles only; a few points still show where a
    distribution's body and tail are.
    """
    if not isinstance(summary, dict):
        return []
    points: list[list[float]] = []
    for q, names in ((0.5, ("p50", "p50_ms", "p50_s")), (0.9, ("p90", "p90_ms", "p90_s")),
                     (0.99, ("p99", "p99_ms", "p99_s")), (1.0, ("max", "max_ms", "max_s"))):
        value = next((num(summary.get(n)) for n in names if num(summary.get(n)) is not None), None)
        if value is not None:
            points.append([value * scale, q])
    points.sort()
    return points


def valid_cdf(points: Any) -> list[list[float]]:
    if not isinstance(points, list):
        return []
    good = [[float(p[0]), float(p[1])] for p in points
            if isinstance(p, list) and len(p) == 2 and num(p[0]) is not None and num(p[1]) is not None]
    return sorted(good)


def rate_before(counts: list[int], bucket_s: float, until: float | None, skip_s: float = 0.0) -> float | None:
    """Mean count per second over the buckets that end before `until` (None: all), after the first skip_s."""
    if bucket_s <= 0:
        return None
    lo = int(skip_s / bucket_s)
    hi = len(counts) if until is None else min(len(counts), int(until / bucket_s))
    if hi <= lo:
        return None
    return sum(counts[lo:hi]) / ((hi - lo) * bucket_s)


def rate_outside(counts: list[int], bucket_s: float, windows: list[tuple[float, float]]) -> float | None:
    """Mean count per second over the buckets that touch none of the windows (steady state around moves)."""
    kept = [c for i, c in enumerate(counts)
            if not any(a < (i + 1) * bucket_s and i * bucket_s < b for a, b in windows)]
    return sum(kept) / (len(kept) * bucket_s) if kept and bucket_s > 0 else None


def bucket_ends(totals: list[int], bucket_s: float) -> tuple[list[float], list[int]]:
    """Running totals placed at the end of their buckets, starting from (0, 0): what was reached by when."""
    return [0.0] + [(i + 1) * bucket_s for i in range(len(totals))], [0, *totals]


def cumulative(counts: list[int]) -> list[int]:
    out: list[int] = []
    total = 0
    for c in counts:
        total += c
        out.append(total)
    return out


# -- figures ------------------------------------------------------------------------------------------


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


@dataclass
class Figures:
    """Where PNGs go; `plt` is None when matplotlib is missing (then every figure is skipped)."""

    folder: Path
    plt: Any
    written: list[str] = field(default_factory=list)

    def new(self, rows: int, cols: int, *, width: float = 11.0, height: float = 3.4) -> tuple[Any, list[Any]]:
        fig, axes = self.plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False)
        return fig, [ax for row in axes for ax in row]

    def save(self, fig: Any, name: str, title: str, caption: str) -> str:
        """Title on top, machine facts and baseline underneath, saved as NAME.png; its file name."""
        fig.suptitle(title, fontsize=12, fontweight="bold")
        # About 19 characters of 7.5 pt text per inch of figure width.
        wrapped = "\n".join(textwrap.wrap(caption, int(fig.get_figwidth() * 19)))
        lines = wrapped.count("\n") + 1
        bottom = min(0.35, (0.16 + 0.045 * lines) / fig.get_figheight() * 2.2)
        fig.tight_layout(rect=(0, bottom, 1, 0.95))
        fig.text(0.01, 0.01, wrapped, fontsize=7.5, va="bottom", ha="left", color="#333333")
        self.folder.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.folder / f"{name}.png", dpi=100)
        self.plt.close(fig)
        self.written.append(f"{name}.png")
        return f"{name}.png"


def plot_cdf(ax: Any, points: list[list[float]], label: str, **style: Any) -> None:
    if not points:
        return
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    if len(points) <= 4:  # from a percentile summary: show the points it has, joined
        ax.plot(xs, ys, marker="o", label=f"{label} (percentiles only)", **style)
    else:
        ax.step(xs, ys, where="post", label=label, **style)


def log_x(ax: Any) -> None:
    """A log latency axis labelled in plain numbers (1, 2, 5, 10, …), not 2×10^1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def cdf_axes(ax: Any, xlabel: str, *, log: bool) -> None:
    if log:
        log_x(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)


def shade(ax: Any, windows: Iterable[tuple[float, float, str, str]], *, labels: bool) -> None:
    """Shaded [start, end) windows with a short label on top."""
    for start, end, color, text in windows:
        ax.axvspan(start, end, color=color, alpha=0.18, lw=0)
        if labels and text:
            ax.text(start, 0.97, f" {text}", transform=ax.get_xaxis_transform(), fontsize=7, va="top", ha="left")


# -- the report's sections ------------------------------------------------------------------------------


@dataclass
class Section:
    title: str
    lines: list[str]


@dataclass
class Context:
    results: dict[str, Any]
    figures: Figures | None
    figures_link: str  # the figures folder as the report links it
    run_machine: Any  # run_all.json's "machine", or None

    def machine(self, own: Any) -> Machine:
        return machine_of(own, self.run_machine)

    def image(self, name: str | None, alt: str) -> list[str]:
        return [f"![{alt}]({self.figures_link}/{name})", ""] if name else []

    def plot(self, draw: Callable[[Figures], str | None], why_not: list[str]) -> str | None:
        """Run one figure's drawing, noting (never raising) when it cannot be drawn."""
        if self.figures is None or self.figures.plt is None:
            why_not.append("_Figure skipped: matplotlib is not installed (pip install -e '.[bench]')._")
            return None
        try:
            return draw(self.figures)
        except Exception as err:  # a plot must not take the report down with it
            why_not.append(f"_Figure skipped: {type(err).__name__}: {err}_")
            return None


def missing(what: str, how: str) -> list[str]:
    return [f"{NOT_MEASURED}: {what} (run `{how}`)._", ""]


def spaced(notes: list[str]) -> list[str]:
    """Markdown paragraphs: each note followed by a blank line."""
    return [line for note in notes for line in (note, "")]


def caption_lines(machine: Machine, baseline: str) -> list[str]:
    return [f"{machine.caption()}. Same-run baseline: {baseline}.", ""]


# 1. API throughput against raw etcd for 1/3/5 replicas


def replica_clusters(data: Any) -> list[dict[str, Any]]:
    return [c for c in dig(data, "clusters") or [] if isinstance(c, dict) and isinstance(c.get("results"), dict)]


def replica_machine(ctx: Context, data: Any) -> Machine:
    clusters = replica_clusters(data)
    own = dict(dig(data, "machine") or {})
    if clusters and isinstance(clusters[0].get("machine"), dict):
        own.setdefault("fsync_ms", clusters[0]["machine"].get("fsync_ms"))
    return ctx.machine(own)


def etcd_put_note(clusters: list[dict[str, Any]]) -> str:
    parts = [f"{c['replicas']} replica(s) {fmt(dig(c, 'etcd_fsync', 'p50_ms'), 2)}/"
             f"{fmt(dig(c, 'etcd_fsync', 'p99_ms'), 2)} ms" for c in clusters]
    return "etcd put (fsync proxy, on the cluster) p50/p99: " + "; ".join(parts) if parts else ""


def section_replicas(ctx: Context) -> Section:
    title = "API throughput against raw etcd: 1, 3 and 5 replicas"
    data = ctx.results.get("replica_throughput")
    clusters = replica_clusters(data)
    if not clusters:
        return Section(title, missing("API throughput by replica count", "python bench/replica_throughput.py"))
    machine = replica_machine(ctx, data)
    baseline = ("the same creates, GETs and LISTs done directly on the cluster's etcd (first replica's member, "
                "same gRPC client, same concurrency) in the same run, alternated with the API runs. "
                + etcd_put_note(clusters))
    lines = ["| replicas | phase | API ops/s | API p50 / p99 ms | raw etcd ops/s | raw p50 / p99 ms | API / raw |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for c in clusters:
        for phase in PHASES:
            r = c["results"].get(phase)
            if isinstance(r, dict):
                a, b = r.get("api") or {}, r.get("raw_etcd") or {}
                lines.append(f"| {c['replicas']} | {phase} | {fmt(a.get('ops_per_s'))} | "
                             f"{fmt(a.get('p50_ms'), 2)} / {fmt(a.get('p99_ms'), 2)} | {fmt(b.get('ops_per_s'))} | "
                             f"{fmt(b.get('p50_ms'), 2)} / {fmt(b.get('p99_ms'), 2)} | {fmt(r.get('ratio'), 3)} |")
    for c in dig(data, "clusters") or []:
        if isinstance(c, dict) and "error" in c:
            lines.append(f"| {c.get('replicas')} | failed | {str(c['error'])[:100]} | | | | |")
    lines.append("")
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    bars = ctx.plot(lambda f: draw_replica_bars(f, clusters, caption), why)
    cdfs = ctx.plot(lambda f: draw_replica_cdfs(f, clusters, caption), why)
    lines += ctx.image(bars, "API and raw etcd throughput by replica count")
    lines += ctx.image(cdfs, "create and GET latency CDFs by replica count")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def draw_replica_bars(f: Figures, clusters: list[dict[str, Any]], caption: str) -> str:
    fig, axes = f.new(1, 4, width=14, height=3.6)
    counts = [c["replicas"] for c in clusters]
    x = list(range(len(counts)))
    for ax, phase in zip(axes, PHASES, strict=False):
        api = [num(dig(c, "results", phase, "api", "ops_per_s")) or 0.0 for c in clusters]
        raw = [num(dig(c, "results", phase, "raw_etcd", "ops_per_s")) or 0.0 for c in clusters]
        ax.bar([i - 0.2 for i in x], raw, 0.4, label="raw etcd", color="#9e9e9e")
        ax.bar([i + 0.2 for i in x], api, 0.4, label="hakube API", color="#1f77b4")
        ax.set_xticks(x, [str(n) for n in counts])
        ax.set_xlabel("replicas")
        ax.set_ylabel("ops/s")
        ax.set_title(phase)
        ax.legend(fontsize=7)
    ax = axes[3]
    for phase in PHASES:
        ys = [num(dig(c, "results", phase, "ratio")) for c in clusters]
        ax.plot(counts, [y if y is not None else math.nan for y in ys], marker="o", label=phase)
    ax.axhline(0.4, color="#d62728", ls=":", lw=1, label="create target 0.40")
    ax.set_xticks(counts)
    ax.set_xlabel("replicas")
    ax.set_ylabel("API / raw etcd")
    ax.set_ylim(bottom=0)
    ax.set_title("throughput ratio")
    ax.legend(fontsize=7)
    return f.save(fig, "replica_throughput", "API throughput against raw etcd, by replica count", caption)


def draw_replica_cdfs(f: Figures, clusters: list[dict[str, Any]], caption: str) -> str | None:
    if not any(valid_cdf(dig(c, "results", p, "api", "cdf_ms")) for c in clusters for p in PHASES):
        return None
    fig, axes = f.new(1, 3, width=14, height=3.6)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    for ax, phase in zip(axes, PHASES, strict=False):
        for i, c in enumerate(clusters):
            color = colors[i % len(colors)]
            plot_cdf(ax, valid_cdf(dig(c, "results", phase, "api", "cdf_ms")), f"API, {c['replicas']}r", color=color)
            plot_cdf(ax, valid_cdf(dig(c, "results", phase, "raw_etcd", "cdf_ms")), f"raw, {c['replicas']}r",
                     color=color, ls="--", alpha=0.7)
        cdf_axes(ax, "latency (ms, log)", log=True)
        ax.set_title(f"{phase} latency CDF")
        ax.legend(fontsize=6)
    return f.save(fig, "replica_latency_cdf", "Latency CDFs by replica count (solid: API, dashed: raw etcd)",
                  caption)


# 2. Latency CDFs (single API server against its etcd)


def section_api(ctx: Context) -> Section:
    title = "Latency CDFs: API against raw etcd (one API server)"
    data = ctx.results.get("api_throughput")
    results = dig(data, "results")
    if not isinstance(results, dict) or not results:
        return Section(title, missing("API throughput and latency", "python bench/api_throughput.py"))
    machine = ctx.machine(dig(data, "machine"))
    baseline = ("raw etcd through the same Python gRPC client (Storage) at the same concurrency, alternated with "
                f"the API runs in rounds; target: {dig(data, 'target') or 'own stack'}")
    lines = ["| phase | API ops/s | API p50 / p99 ms | raw etcd ops/s | raw p50 / p99 ms | API / raw |",
             "|---|---:|---:|---:|---:|---:|"]
    for phase in PHASES:
        r = results.get(phase)
        if isinstance(r, dict):
            a, b = r.get("api") or {}, r.get("raw_etcd") or {}
            lines.append(f"| {phase} | {fmt(a.get('ops_per_s'))} | {fmt(a.get('p50_ms'), 2)} / "
                         f"{fmt(a.get('p99_ms'), 2)} | {fmt(b.get('ops_per_s'))} | {fmt(b.get('p50_ms'), 2)} / "
                         f"{fmt(b.get('p99_ms'), 2)} | {fmt(r.get('ratio'), 3)} |")
    w = results.get("watch")
    if isinstance(w, dict):
        la = w.get("latency_from_ack") or {}
        lines += ["", f"Watch: {w.get('watchers')} watchers × {w.get('events_written')} writes, delivered "
                  f"{w.get('delivered')}/{w.get('expected_deliveries')}; latency from the write's ack p50 "
                  f"{fmt(la.get('p50_ms'), 2)} ms, p99 {fmt(la.get('p99_ms'), 2)} ms (no raw etcd counterpart)."]
    lines.append("")
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    name = ctx.plot(lambda f: draw_api_cdfs(f, results, caption), why)
    lines += ctx.image(name, "latency CDFs, API against raw etcd")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def side_cdf(side: Any) -> list[list[float]]:
    return valid_cdf(dig(side, "cdf_ms")) or cdf_from_summary(side)


def draw_api_cdfs(f: Figures, results: dict[str, Any], caption: str) -> str | None:
    panels = [p for p in (*PHASES, "watch") if isinstance(results.get(p), dict)]
    if not panels:
        return None
    fig, axes = f.new(1, len(panels), width=3.6 * len(panels) + 1, height=3.6)
    for ax, phase in zip(axes, panels, strict=False):
        r = results[phase]
        if phase == "watch":
            points = valid_cdf(r.get("latency_from_ack_cdf_ms")) or cdf_from_summary(r.get("latency_from_ack"))
            plot_cdf(ax, points, f"event at {r.get('watchers')} watchers", color="#1f77b4")
            ax.set_title("watch delivery (from write ack)")
        else:
            plot_cdf(ax, side_cdf(r.get("raw_etcd")), "raw etcd", color="#7f7f7f", ls="--")
            plot_cdf(ax, side_cdf(r.get("api")), "hakube API", color="#1f77b4")
            ax.set_title(f"{phase}: API {fmt(dig(r, 'api', 'ops_per_s'), 0)} ops/s, "
                         f"raw {fmt(dig(r, 'raw_etcd', 'ops_per_s'), 0)} ops/s", fontsize=9)
        cdf_axes(ax, "latency (ms, log)", log=True)
        ax.legend(fontsize=7, loc="lower right")
    return f.save(fig, "api_latency_cdf", "Request latency CDFs: hakube API against raw etcd", caption)


# 3. Chaos: requests/s and errors around each fault; 4. quorum against serializable reads


def fault_windows(faults: Any, end: float) -> list[tuple[float, float, str, str]]:
    """(start, end, colour, label) per fault: red while it lasts, yellow while it heals."""
    out: list[tuple[float, float, str, str]] = []
    for f in faults if isinstance(faults, list) else []:
        start, heal, healed = num(dig(f, "start")), num(dig(f, "heal_start")), num(dig(f, "healed"))
        if start is None:
            continue
        heal = heal if heal is not None else end
        out.append((start, heal, "#d62728", str(dig(f, "kind") or "fault")))
        out.append((heal, healed if healed is not None else end, "#ffbf00", ""))
    return out


def section_chaos(ctx: Context) -> Section:
    title = "Chaos: requests/s and errors around each fault"
    data = ctx.results.get("chaos")
    runs = chaos_runs(data)
    if not runs:
        return Section(title, missing("chaos runs", "python bench/chaos.py --compare-quorum-reads"))
    machine = ctx.machine(dig(data, "machine") or dig(runs[0], "machine"))
    lines = ["| reads | faults (start → healed, s) | ops | acked writes | lost | linearizable | stale reads | "
             "availability |", "|---|---|---:|---:|---:|---|---:|---:|"]
    for r in runs:
        faults = ", ".join(f"{dig(f, 'kind')} {fmt(dig(f, 'start'))}→{fmt(dig(f, 'healed'))}"
                           for f in r.get("faults") or [])
        cells = [r.get(k, "–") for k in ("operations", "acknowledged_writes", "lost_writes", "linearizable",
                                         "stale_reads")]
        lines.append(f"| {'quorum' if r.get('quorum_reads') else 'serializable'} | {faults or '–'} | "
                     + " | ".join(str(c) for c in cells) + f" | {fmt(r.get('availability'), 4)} |")
    lines.append("")
    lines += fault_kinds_table(runs)
    baseline = "; ".join(chaos_baseline(r) for r in runs)
    why: list[str] = []
    with_timeline = [r for r in runs if isinstance(r.get("timeline"), dict)]
    if not with_timeline:
        why.append("_Timeline not measured in this run: results/chaos.json has no `timeline` (an older chaos.py)._")
        name = None
    else:
        caption = f"{machine.caption()}. Same-run baseline: {baseline}"
        name = ctx.plot(lambda f: draw_chaos(f, with_timeline, caption), why)
    lines += ctx.image(name, "chaos timelines")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def fault_kinds_table(runs: list[dict[str, Any]]) -> list[str]:
    """Per fault kind: how often, how long from injection to a healthy cluster, and the failed /readyz probes."""
    kinds: dict[tuple[bool, str], list[dict[str, Any]]] = {}
    for r in runs:
        for f in r.get("faults") or []:
            if isinstance(f, dict) and "error" not in f and num(f.get("start")) is not None:
                kinds.setdefault((bool(r.get("quorum_reads")), str(f.get("kind"))), []).append(f)
    if not kinds:
        return []
    lines = ["| reads | fault | times | injection → healthy, mean s | failed probes (of 10/s) | why |",
             "|---|---|---:|---:|---:|---|"]
    for (quorum, kind), items in sorted(kinds.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        spans = [float(f["healed"]) - float(f["start"]) for f in items if num(f.get("healed")) is not None]
        failed = [int(f["probes_failed"]) for f in items if num(f.get("probes_failed")) is not None]
        why: collections.Counter[str] = collections.Counter()
        for f in items:
            why.update({str(k): int(v) for k, v in (f.get("probe_failure_reasons") or {}).items()})
        reasons = ", ".join(f"{k} ×{v}" for k, v in why.most_common()) or "–"
        lines.append(f"| {'quorum' if quorum else 'serializable'} | {kind} | {len(items)} | "
                     f"{fmt(sum(spans) / len(spans)) if spans else '–'} | {sum(failed) if failed else '–'} | "
                     f"{reasons} |")
    return [*lines, ""]


def chaos_baseline(run: dict[str, Any]) -> str:
    label = "quorum reads" if run.get("quorum_reads") else "serializable reads"
    t = run.get("timeline")
    if not isinstance(t, dict):
        return f"{label}: no timeline"
    first = min((num(dig(f, "start")) or math.inf for f in run.get("faults") or []), default=math.inf)
    bucket = num(t.get("bucket_s")) or 1.0
    ok = rate_before(list(t.get("ok") or []), bucket, None if math.isinf(first) else first, skip_s=bucket)
    return f"{label}: {fmt(ok)} ok requests/s before the first fault"


def draw_chaos(f: Figures, runs: list[dict[str, Any]], caption: str) -> str:
    fig, axes = f.new(2 * len(runs), 1, width=12, height=2.3)
    for k, run in enumerate(runs):
        t = run["timeline"]
        bucket = num(t.get("bucket_s")) or 1.0
        series = {name: [int(x) for x in t.get(name) or []] for name in ("ok", "fail", "unknown")}
        n = max((len(v) for v in series.values()), default=0)
        xs = [i * bucket for i in range(n)]
        windows = fault_windows(run.get("faults"), n * bucket)
        label = "quorum reads" if run.get("quorum_reads") else "serializable reads"
        top, bottom = axes[2 * k], axes[2 * k + 1]
        top.step(xs, [c / bucket for c in series["ok"]] + [0] * (n - len(series["ok"])), where="post",
                 color="#2ca02c", label="ok")
        top.set_ylabel("ok req/s")
        top.set_ylim(bottom=0)
        top.set_title(f"{label}: ops that succeeded", fontsize=9, loc="left")
        for name, color in (("fail", "#d62728"), ("unknown", "#ff7f0e")):
            values = series[name] + [0] * (n - len(series[name]))
            bottom.bar(xs, [c / bucket for c in values], width=bucket, align="edge", color=color, alpha=0.8,
                       label=name, bottom=[c / bucket for c in series["fail"]] if name == "unknown" and
                       len(series["fail"]) == n else None)
        bottom.set_ylabel("errors/s")
        bottom.set_title(f"{label}: failed and unknown outcomes", fontsize=9, loc="left")
        bottom.legend(fontsize=7, loc="upper right")
        for ax in (top, bottom):
            shade(ax, windows, labels=ax is top)
            ax.set_xlim(0, max(1.0, n * bucket))
            ax.grid(alpha=0.3)
        bottom.set_xlabel("seconds from the workload's start (red: fault on, yellow: healing)")
    return f.save(fig, "chaos_timeline", "Requests/s and errors around each fault", caption)


def section_quorum(ctx: Context) -> Section:
    title = "Quorum against serializable reads"
    data = ctx.results.get("chaos")
    runs = chaos_runs(data)
    by_mode = {bool(r.get("quorum_reads")): r for r in runs if isinstance(r.get("read_latency_ms"), dict)}
    if not by_mode:
        return Section(title, missing("read latency", "python bench/chaos.py --compare-quorum-reads"))
    machine = ctx.machine(dig(data, "machine"))
    lines = ["| reads | read p50 ms | read p99 ms | read mean ms | ops | availability | stale reads | linearizable |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for mode, r in sorted(by_mode.items(), reverse=True):
        lat = r["read_latency_ms"]
        lines.append(f"| {'quorum' if mode else 'serializable'} | {fmt(lat.get('p50'), 2)} | {fmt(lat.get('p99'), 2)} "
                     f"| {fmt(lat.get('mean'), 2)} | {r.get('operations', '–')} | {fmt(r.get('availability'), 4)} | "
                     f"{r.get('stale_reads', '–')} | {r.get('linearizable', '–')} |")
    speed = num(dig(data, "quorum_read_speedup_p50"))
    if speed is not None:
        lines += ["", f"Quorum read p50 / serializable read p50 = {fmt(speed, 2)}."]
    lines.append("")
    if len(by_mode) < 2:
        other = "serializable" if True in by_mode else "quorum"
        lines += [f"{NOT_MEASURED}: the {other} counterpart (run `python bench/chaos.py --compare-quorum-reads`)._",
                  ""]
        baseline = "none in this run"
    else:
        baseline = ("the serializable-read run of the same invocation (a fresh 3-replica cluster, same seed, "
                    "workload and faults)")
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    name = ctx.plot(lambda f: draw_quorum(f, by_mode, caption), why)
    lines += ctx.image(name, "quorum against serializable read latency")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def draw_quorum(f: Figures, by_mode: dict[bool, dict[str, Any]], caption: str) -> str:
    fig, axes = f.new(1, 2, width=10, height=3.4)
    stats = ("p50", "p99", "mean")
    modes = sorted(by_mode, reverse=True)
    for j, mode in enumerate(modes):
        values = [num(by_mode[mode]["read_latency_ms"].get(s)) or 0.0 for s in stats]
        axes[0].bar([i + (j - 0.5) * 0.4 for i in range(len(stats))], values, 0.4,
                    label="quorum" if mode else "serializable", color="#1f77b4" if mode else "#ff7f0e")
    axes[0].set_xticks(range(len(stats)), stats)
    axes[0].set_ylabel("read latency (ms)")
    axes[0].set_title("reads under faults")
    axes[0].legend(fontsize=8)
    labels = ["quorum" if m else "serializable" for m in modes]
    axes[1].bar(labels, [100 * (num(by_mode[m].get("availability")) or 0.0) for m in modes],
                color=["#1f77b4" if m else "#ff7f0e" for m in modes])
    axes[1].set_ylim(90, 100.5)
    axes[1].set_ylabel("/readyz availability (%)")
    axes[1].set_title("availability through the load balancer")
    return f.save(fig, "quorum_reads", "Quorum against serializable reads (chaos workload)", caption)


# 5. Load balancer creation and removal


def lb_windows(trials: Any) -> list[tuple[float, float, str, str]]:
    out: list[tuple[float, float, str, str]] = []
    for t in trials if isinstance(trials, list) else []:
        for key, color, text in (("creation", "#1f77b4", "LB on"), ("removal", "#9467bd", "LB off")):
            mark = dig(t, "marks_s", key)
            if isinstance(mark, list) and len(mark) == 2 and num(mark[0]) is not None and num(mark[1]) is not None:
                out.append((float(mark[0]), max(float(mark[1]), float(mark[0]) + 0.05), color, text))
    return out


def section_lb(ctx: Context) -> Section:
    title = "Load balancer creation and removal under load"
    data = ctx.results.get("ha_lb")
    trials = dig(data, "results", "trials")
    if not isinstance(trials, list) or not trials:
        return Section(title, missing("load balancer creation and removal", "python bench/ha_lb.py"))
    machine = ctx.machine(dig(data, "machine"))
    lines = ["| trial | creation s | removal s | LB exit s | failed during creation | failed during removal |",
             "|---:|---:|---:|---:|---:|---:|"]
    for t in trials:
        lines.append(f"| {t.get('trial')} | {fmt(t.get('creation_s'), 2)} | {fmt(t.get('removal_s'), 2)} | "
                     f"{fmt(t.get('lb_exit_s'), 2)} | {t.get('failed_during_creation')} | "
                     f"{t.get('failed_during_removal')} |")
    r = dig(data, "results") or {}
    lines += ["", f"{r.get('requests_ok', '–')} requests succeeded, {r.get('failed_requests', '–')} failed.", ""]
    timeline = r.get("timeline")
    windows = lb_windows(trials)
    mech = dig(data, "mechanism") or {}
    baseline = lb_baseline(timeline, windows, mech)
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    if isinstance(timeline, dict) and windows:
        name = ctx.plot(lambda f: draw_lb_timeline(f, timeline, windows, caption), why)
    else:
        why.append("_Request timeline not measured in this run (an older ha_lb.py); per-trial times shown._")
        name = ctx.plot(lambda f: draw_lb_trials(f, trials, caption), why)
    lines += ctx.image(name, "load balancer creation and removal")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def lb_baseline(timeline: Any, windows: list[tuple[float, float, str, str]], mech: dict[str, Any]) -> str:
    parts = []
    if isinstance(timeline, dict):
        bucket = num(timeline.get("bucket_s")) or 0.1
        steady = rate_outside(list(timeline.get("ok") or []), bucket, [(a, b) for a, b, _, _ in windows])
        parts.append(f"{fmt(steady)} ok requests/s while no move is under way")
    naive, steered = dig(mech, "naive"), dig(mech, "steered")
    if isinstance(naive, dict) and isinstance(steered, dict):
        parts.append(f"a plain SO_REUSEPORT close failed {naive.get('failed')} of {naive.get('connections')} "
                     f"connections, steer-then-close {steered.get('failed')} of {steered.get('connections')}")
    parts.append("(GCE kube-up's LB change, for scale: ~1,200 s, not this run)")
    return "; ".join(parts)


def draw_lb_timeline(f: Figures, timeline: dict[str, Any], windows: list[tuple[float, float, str, str]],
                     caption: str) -> str:
    bucket = num(timeline.get("bucket_s")) or 0.1
    ok = [int(x) for x in timeline.get("ok") or []]
    fail = [int(x) for x in timeline.get("fail") or []]
    fig, axes = f.new(2, 1, width=12, height=2.6)
    xs = [i * bucket for i in range(len(ok))]
    axes[0].step(xs, [c / bucket for c in ok], where="post", color="#2ca02c", lw=0.8)
    axes[0].set_ylabel("ok req/s")
    axes[0].set_ylim(bottom=0)
    axes[0].set_title("requests that succeeded (blue: LB creation, purple: LB removal)", fontsize=9, loc="left")
    axes[1].bar([i * bucket for i in range(len(fail))], [c / bucket for c in fail], width=bucket, align="edge",
                color="#d62728")
    axes[1].set_ylabel("failed req/s")
    axes[1].set_title(f"failed requests: {sum(fail)} in all", fontsize=9, loc="left")
    axes[1].set_xlabel("seconds from the load's start")
    if not any(fail):
        axes[1].set_ylim(0, 1)
    for ax in axes:
        shade(ax, windows, labels=False)
        ax.set_xlim(0, max(1.0, len(ok) * bucket))
        ax.grid(alpha=0.3)
    return f.save(fig, "lb_timeline", "Requests around load balancer creation and removal", caption)


def draw_lb_trials(f: Figures, trials: list[dict[str, Any]], caption: str) -> str:
    fig, axes = f.new(1, 1, width=8, height=3.4)
    ax = axes[0]
    n = [int(num(t.get("trial")) or i + 1) for i, t in enumerate(trials)]
    ax.bar([i - 0.2 for i in n], [num(t.get("creation_s")) or 0.0 for t in trials], 0.4, label="creation")
    ax.bar([i + 0.2 for i in n], [num(t.get("removal_s")) or 0.0 for t in trials], 0.4, label="removal")
    ax.axhline(5.0, color="#d62728", ls=":", label="target 5 s")
    ax.set_xlabel("trial")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=8)
    return f.save(fig, "lb_timeline", "Load balancer creation and removal time per trial", caption)


# 6. Adding a replica against data size


def add_series(data: Any) -> list[dict[str, Any]]:
    series = dig(data, "series")
    if isinstance(series, list) and series:
        return [s for s in series if isinstance(s, dict) and num(s.get("data_bytes")) is not None]
    one = dig(data, "figures")
    return [one] if isinstance(one, dict) and num(one.get("data_bytes")) is not None else []


def section_add(ctx: Context) -> Section:
    title = "Adding a replica: time against data size"
    data = ctx.results.get("ha_add_replica")
    series = sorted(add_series(data), key=lambda s: float(s["data_bytes"]))
    if not series:
        return Section(title, missing("adding a replica", "python bench/ha_add_replica.py --sizes 10,25,50,100"))
    machine = ctx.machine(dig(data, "machine"))
    lines = ["| data MB | ready s | learner catch-up s | copy rate MB/s | requests during add | failed |",
             "|---:|---:|---:|---:|---:|---:|"]
    for s in series:
        lines.append(f"| {fmt(float(s['data_bytes']) / 1e6, 0)} | {fmt(s.get('ready_s'), 2)} | "
                     f"{fmt(s.get('catch_up_s'), 2)} | {fmt(s.get('copy_rate_mb_s'))} | "
                     f"{s.get('requests_during_add', '–')} | {s.get('failed_during_add', '–')} |")
    lines.append("")
    fill = sum(num(s.get("fill_s")) or 0.0 for s in series)
    baseline = (f"writing the same data through the API took {fmt(fill, 2)} s in all "
                f"({fmt(float(series[-1]['data_bytes']) / 1e6 / fill if fill else None)} MB/s, plotted cumulatively); "
                "target: ready within 10 s")
    if len(series) < 2:
        lines += ["_One data size only in this run (run `python bench/ha_add_replica.py --sizes 10,25,50,100`)._",
                  ""]
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    name = ctx.plot(lambda f: draw_add(f, series, caption), why)
    lines += ctx.image(name, "add-replica time against data size")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def draw_add(f: Figures, series: list[dict[str, Any]], caption: str) -> str:
    fig, axes = f.new(1, 1, width=8, height=3.8)
    ax = axes[0]
    mb = [float(s["data_bytes"]) / 1e6 for s in series]
    for key, label, style in (("ready_s", "replica ready (whole `replica add`)", "o-"),
                              ("catch_up_s", "etcd learner catch-up", "s--")):
        ax.plot(mb, [num(s.get(key)) if num(s.get(key)) is not None else math.nan for s in series], style,
                label=label)
    fills = cumulative([round(1000 * (num(s.get("fill_s")) or 0.0)) for s in series])
    ax.plot(mb, [x / 1000 for x in fills], "^:", color="#7f7f7f", label="writing that data through the API")
    ax.axhline(10.0, color="#d62728", ls=":", lw=1, label="target 10 s")
    ax.set_xlabel("etcd data (MB)")
    ax.set_ylabel("seconds")
    ax.set_xlim(left=0, right=max(mb) * 1.08)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return f.save(fig, "add_replica", "Adding a replica: time against data size", caption)


# 7. Scheduler throughput; 8. pod startup latency


def section_scheduler(ctx: Context) -> Section:
    title = "Scheduler throughput"
    data = ctx.results.get("scheduler_throughput")
    density = ctx.results.get("density")
    sched = dig(data, "results", "scheduler")
    dens = {k: v for k, v in (dig(density, "results") or {}).items() if isinstance(dig(v, "scheduler"), dict)}
    if not isinstance(sched, dict) and not dens:
        return Section(title, missing("scheduler throughput", "python bench/scheduler_throughput.py"))
    machine = ctx.machine(dig(data, "machine") if isinstance(sched, dict) else dig(density, "machine"))
    lines = ["| run | bound | pods/s (first→last) | pods/s (p10→p90) | time to bind p50 / p99 ms |",
             "|---|---:|---:|---:|---:|"]
    base = dig(data, "results", "baseline")
    for label, r in (("naive binder (baseline)", base), ("hakube scheduler", sched)):
        if isinstance(r, dict):
            ttb = r.get("time_to_bind_ms") or {}
            lines.append(f"| {label} | {r.get('bound', '–')} | {fmt(r.get('pods_per_s'))} | "
                         f"{fmt(r.get('steady_pods_per_s'))} | {fmt(ttb.get('p50'))} / {fmt(ttb.get('p99'))} |")
    for phase, r in dens.items():
        s = r["scheduler"]
        lines.append(f"| density {phase} ({r.get('pods')} pods, hollow nodes) | {s.get('bound', '–')} | "
                     f"{fmt(s.get('pods_per_s'))} | {fmt(s.get('steady_pods_per_s'))} | – |")
    ratio = num(dig(data, "results", "ratio_to_baseline"))
    if ratio is not None:
        lines += ["", f"Scheduler / naive binder = {fmt(ratio, 3)}."]
    lines.append("")
    baseline = ("a naive binder (watch pending pods, POST bindings round robin, no filtering or scoring) on the "
                "same pods and nodes in the same run" if isinstance(base, dict) else
                "none: the naive-binder baseline was not run")
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    name = ctx.plot(lambda f: draw_scheduler(f, base, sched, dens, caption), why)
    lines += ctx.image(name, "scheduler throughput")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def draw_scheduler(f: Figures, base: Any, sched: Any, dens: dict[str, Any], caption: str) -> str:
    fig, axes = f.new(1, 3, width=14, height=3.6)
    bars: list[tuple[str, float, str]] = []
    for label, r, color in (("naive binder", base, "#9e9e9e"), ("scheduler", sched, "#1f77b4")):
        if isinstance(r, dict):
            bars.append((label, num(r.get("pods_per_s")) or 0.0, color))
    for phase, r in dens.items():
        bars.append((f"density\n{phase}", num(r["scheduler"].get("steady_pods_per_s")) or 0.0, "#2ca02c"))
    ax = axes[0]
    ax.bar([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
    ax.axhline(100, color="#d62728", ls=":", lw=1, label="target 100 pods/s")
    ax.set_ylabel("pods bound per second")
    ax.set_title("throughput")
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7)
    ax = axes[1]
    for label, r, color in (("naive binder", base, "#7f7f7f"), ("scheduler", sched, "#1f77b4")):
        t = dig(r, "timeline")
        if isinstance(t, dict):
            bucket = num(t.get("bucket_s")) or 0.1
            bound = cumulative([int(x) for x in t.get("bound") or []])
            ax.plot(*bucket_ends(bound, bucket), color=color, label=f"{label}: bound")
            created = cumulative([int(x) for x in t.get("created") or []])
            ax.plot(*bucket_ends(created, bucket), color=color, ls=":", label=f"{label}: created")
    ax.set_xlabel("seconds from the first create")
    ax.set_ylabel("pods (cumulative)")
    ax.set_title("creates and bindings over time")
    if ax.lines:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "timeline not measured in this run", ha="center", transform=ax.transAxes, fontsize=8)
    ax = axes[2]
    for label, r, color in (("naive binder", base, "#7f7f7f"), ("scheduler", sched, "#1f77b4")):
        if isinstance(r, dict):
            points = valid_cdf(r.get("time_to_bind_cdf_ms")) or cdf_from_summary(r.get("time_to_bind_ms"))
            plot_cdf(ax, [[x / 1000, q] for x, q in points], label, color=color)
    cdf_axes(ax, "time to bind (s, create sent → binding seen)", log=False)
    ax.set_title("time to bind CDF")
    if ax.lines:
        ax.legend(fontsize=7)
    return f.save(fig, "scheduler_throughput", "Scheduler throughput", caption)


def section_startup(ctx: Context) -> Section:
    title = "Pod startup latency"
    data = ctx.results.get("density")
    phases = {k: v for k, v in (dig(data, "results") or {}).items() if isinstance(dig(v, "startup_latency_s"), dict)}
    if not phases:
        return Section(title, missing("pod startup latency", "python bench/density.py"))
    machine = ctx.machine(dig(data, "machine"))
    s = dig(data, "settings") or {}
    lines = [f"{s.get('nodes', '?')} hollow nodes, {s.get('pods', '?')} pods per phase "
             f"(steady: {fmt(s.get('rate'), 0)} pods/s).", "",
             "| phase | Running / pods | created → Running p50 / p90 / p99 / max s | first seen → Running p50 / p99 s |"
             " all Running after s |", "|---|---:|---:|---:|---:|"]
    for phase, r in phases.items():
        a, b = r["startup_latency_s"], r.get("first_seen_to_running_s") or {}
        lines.append(f"| {phase} | {r.get('running')}/{r.get('pods')} | {fmt(a.get('p50'), 2)} / {fmt(a.get('p90'), 2)}"
                     f" / {fmt(a.get('p99'), 2)} / {fmt(a.get('max'), 2)} | {fmt(b.get('p50'), 3)} / "
                     f"{fmt(b.get('p99'), 3)} | {fmt(r.get('all_running_after_s'), 2)} |")
    lines.append("")
    baseline = ("the steady phase (pods created at a fixed rate) for the burst and saturation phases of the same "
                "run; Kubernetes' SLO (p99 ≤ 5 s) for scale. creationTimestamp has 1 s resolution: first seen → "
                "Running is the sub-second view")
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    name = ctx.plot(lambda f: draw_startup(f, phases, caption), why)
    lines += ctx.image(name, "pod startup latency")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def draw_startup(f: Figures, phases: dict[str, Any], caption: str) -> str:
    fig, axes = f.new(1, 3, width=14, height=3.6)
    colors = {"steady": "#1f77b4", "burst": "#ff7f0e", "saturation": "#2ca02c"}
    for phase, r in phases.items():
        color = colors.get(phase, "#7f7f7f")
        plot_cdf(axes[0], valid_cdf(r.get("startup_latency_cdf_s")) or cdf_from_summary(r["startup_latency_s"]),
                 phase, color=color)
        plot_cdf(axes[1], valid_cdf(r.get("first_seen_to_running_cdf_s"))
                 or cdf_from_summary(r.get("first_seen_to_running_s")), phase, color=color)
        t = dig(r, "timeline")
        if isinstance(t, dict):
            bucket = num(t.get("bucket_s")) or 0.1
            running = cumulative([int(x) for x in t.get("running") or []])
            axes[2].plot(*bucket_ends(running, bucket), color=color, label=phase)
    axes[0].axvline(5.0, color="#d62728", ls=":", lw=1, label="SLO p99 5 s")
    for ax, title in ((axes[0], "creationTimestamp → Running (s)"), (axes[1], "first seen → Running (s)")):
        cdf_axes(ax, title, log=False)
        ax.legend(fontsize=7, loc="lower right")
    axes[2].set_xlabel("seconds from the phase's start")
    axes[2].set_ylabel("pods Running (cumulative)")
    if axes[2].lines:
        axes[2].legend(fontsize=7)
    else:
        axes[2].text(0.5, 0.5, "timeline not measured in this run", ha="center", transform=axes[2].transAxes,
                     fontsize=8)
    return f.save(fig, "pod_startup", "Pod startup latency (hollow nodes)", caption)


# 9. Failover and leader handover (tables and a strip plot)


def section_failover(ctx: Context) -> Section:
    title = "Replica failover: writes through the external IP"
    data = ctx.results.get("ha_failover")
    summary = dig(data, "summary")
    if not isinstance(summary, dict) or not summary:
        return Section(title, missing("replica failover", "python bench/ha_failover.py"))
    machine = ctx.machine(dig(data, "machine"))
    lines = ["| killed replica | trials | write outage p50 / p99 / max s | failed requests | target ≤ 2 s |",
             "|---|---:|---:|---:|---|"]
    for scenario, s in summary.items():
        if isinstance(s, dict):
            lines.append(f"| {scenario} | {s.get('trials')} | {fmt(s.get('outage_p50_s'), 2)} / "
                         f"{fmt(s.get('outage_p99_s'), 2)} / {fmt(s.get('outage_max_s'), 2)} | "
                         f"{s.get('failed_requests_total')} | {'met' if s.get('target_met') else 'missed'} |")
    lines.append("")
    baseline = ("killing a replica whose etcd member follows (only its API server is lost to clients) against "
                "killing the etcd leader's replica, same cluster and run")
    trials = [t for t in dig(data, "trials") or [] if isinstance(t, dict)]
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    name = ctx.plot(lambda f: draw_strip(f, "ha_failover", "Write outage after a replica is killed",
                                         {s: [num(t.get("outage_s")) for t in trials if t.get("scenario") == s]
                                          for s in summary}, "write outage (s)", 2.0, caption), why)
    lines += ctx.image(name, "failover outages")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def section_leader(ctx: Context) -> Section:
    title = "Controller-manager and scheduler leader handover"
    data = ctx.results.get("leader_failover")
    results = dig(data, "results")
    if not isinstance(results, dict) or not results:
        return Section(title, missing("leader handover", "python bench/leader_failover.py"))
    machine = ctx.machine(dig(data, "machine"))
    lease = dig(data, "settings", "lease_duration")
    lines = ["| component | signal | trials | handover p50 / p99 / max s |", "|---|---|---:|---:|"]
    samples: dict[str, list[float | None]] = {}
    for comp, by_sig in results.items():
        for sig, row in (by_sig or {}).items():
            lines.append(f"| {comp} | {sig} | {row.get('trials')} | {fmt(row.get('p50_s'), 3)} / "
                         f"{fmt(row.get('p99_s'), 3)} / {fmt(row.get('max_s'), 3)} |")
            samples[f"{comp}\n{sig}"] = [num(x) for x in row.get("samples_s") or []]
    lines.append("")
    baseline = (f"SIGTERM (the leader releases its Lease) against SIGKILL (the standby waits out the {fmt(lease, 0)} s "
                "lease) in the same run")
    why: list[str] = []
    caption = f"{machine.caption()}. Same-run baseline: {baseline}"
    name = ctx.plot(lambda f: draw_strip(f, "leader_failover", "Leader handover time", samples, "handover (s)",
                                         num(lease), caption), why)
    lines += ctx.image(name, "leader handover")
    lines += spaced(why) + caption_lines(machine, baseline)
    return Section(title, lines)


def draw_strip(f: Figures, name: str, title: str, groups: dict[str, list[float | None]], ylabel: str,
               line: float | None, caption: str) -> str | None:
    groups = {k: [x for x in v if x is not None] for k, v in groups.items()}
    if not any(groups.values()):
        return None
    fig, axes = f.new(1, 1, width=max(6.0, 1.6 * len(groups) + 2), height=3.6)
    ax = axes[0]
    for i, values in enumerate(groups.values()):
        xs = [i + 0.08 * ((k % 5) - 2) for k in range(len(values))]
        ax.scatter(xs, values, s=18, alpha=0.8)
    ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
    ax.set_xlim(-0.5, len(groups) - 0.5)
    if line is not None:
        ax.axhline(line, color="#d62728", ls=":", lw=1)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, axis="y")
    return f.save(fig, name, title, caption)


# -- the report -------------------------------------------------------------------------------------------


SECTIONS: tuple[Callable[[Context], Section], ...] = (
    section_replicas, section_api, section_chaos, section_quorum, section_lb, section_add, section_scheduler,
    section_startup, section_failover, section_leader,
)


def run_summary(run: Any) -> list[str]:
    """The table of what run_all ran, how long each took and how it ended."""
    if not isinstance(run, dict):
        return ["_No results/run_all.json: the results below come from the benchmarks run one by one._", ""]
    lines = [f"Run started {run.get('started', '?')}{' (quick settings)' if run.get('quick') else ''}; benchmarks "
             f"took {fmt(run.get('benchmarks_s'), 0)} s of a {fmt(run.get('budget_s'), 0)} s budget.", "",
             "| benchmark | arguments | wall s | exit code |", "|---|---|---:|---|"]
    for b in run.get("benchmarks") or []:
        if not isinstance(b, dict):
            continue
        args = " ".join(a for a in b.get("args") or [] if isinstance(a, str))
        end = b.get("skipped") or ("timed out" if b.get("timed_out") else b.get("exit_code"))
        lines.append(f"| {b.get('name')} | `{args or '(defaults)'}` | {fmt(b.get('wall_s'))} | {end} |")
    return [*lines, ""]


def build(results_dir: Path, report: Path, figures_dir: Path, *, plots: bool = True) -> str:
    """Write the report (and its figures); the markdown written."""
    results, problems = load_results(results_dir)
    plt = pyplot() if plots else None
    figures = Figures(figures_dir, plt)
    link = Path(os.path.relpath(figures_dir, report.parent)).as_posix()
    ctx = Context(results=results, figures=figures, figures_link=link, run_machine=dig(results, "run_all", "machine"))
    out = ["# hakube benchmark report", "",
           f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/report.py` from "
           f"{len(results)} results files. Every figure states the machine it ran on and its same-run baseline; "
           "the load generator always shares the machine's cores with the system under test.", ""]
    out += [f"- {p}" for p in problems] + ([""] if problems else [])
    out += ["## The run", "", *run_summary(results.get("run_all"))]
    for make in SECTIONS:
        section = make(ctx)
        out += [f"## {section.title}", "", *section.lines]
    if plt is None and plots:
        out += ["_Figures were not drawn: matplotlib is not installed (pip install -e '.[bench]')._", ""]
    text = "\n".join(out).rstrip() + "\n"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text)
    remove_stale(figures_dir, figures.written)
    return text


def remove_stale(folder: Path, written: list[str]) -> None:
    """Figures of an earlier run that this one did not draw would contradict the report: drop them."""
    if not folder.is_dir():
        return
    for png in folder.glob("*.png"):
        if png.name not in written:
            png.unlink()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--results", type=Path, default=HERE / "results", help="results folder (default bench/results)")
    p.add_argument("--report", type=Path, default=HERE / "REPORT.md", help="the report (default bench/REPORT.md)")
    p.add_argument("--figures", type=Path, default=HERE / "figures", help="PNG folder (default bench/figures)")
    args = p.parse_args(argv)
    build(args.results, args.report, args.figures)
    print(f"wrote {args.report} and its figures in {args.figures}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
