"""/healthz, /livez and /readyz with kube's check list format (API-COMPAT.md §8).

`readyz` fails while etcd is unreachable and from the first moment of a
graceful shutdown, so a load balancer drains this server before it stops;
`livez` does not depend on etcd, so a transient etcd loss does not get every
replica restarted at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Check = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class HealthCheck:
    name: str
    check: Check


async def _ok() -> bool:
    return True


def text(body: str, code: int = 200) -> web.Response:
    return web.Response(text=body, status=code, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def run_checks(request: web.Request, endpoint: str, checks: list[HealthCheck],
                     only: str | None = None) -> web.Response:
    """Run `checks` (or just `only`) and render kube's verbose or terse answer."""
    if only is not None:
        chosen = [c for c in checks if c.name == only]
        if not chosen:
            return text("404 page not found\n", 404)
        ok = await chosen[0].check()
        return text("ok" if ok else f"internal server error: {only} failed\n", 200 if ok else 500)
    excluded = set(request.query.getall("exclude", []))
    lines, failed = [], False
    for c in checks:
        if c.name in excluded:
            lines.append(f"[+]{c.name} excluded: ok")
            continue
        ok = await c.check()
        failed = failed or not ok
        lines.append(f"[+]{c.name} ok" if ok else f"[-]{c.name} failed: reason withheld")
    unknown = excluded - {c.name for c in checks}
    if unknown:
        lines.append(f"warn: some health checks cannot be excluded: no matches for "
                     f"{','.join(repr(u) for u in sorted(unknown))}")
    verdict = f"{endpoint} check failed" if failed else f"{endpoint} check passed"
    if failed or "verbose" in request.query:
        return text("\n".join([*lines, verdict]) + "\n", 500 if failed else 200)
    return text("ok")


def ping() -> HealthCheck:
    return HealthCheck("ping", _ok)
