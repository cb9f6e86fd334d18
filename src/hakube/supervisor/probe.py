"""Liveness probes as kubelet runs them (k/k pkg/probe/http, pkg/probe/tcp).

httpGet: a status from 200 to 399 is success; HTTPS certificates are not
verified; redirects are not followed (kubelet treats a redirect as success).
Every probe opens a fresh connection, so a server that only keeps old
connections alive still fails. tcpSocket: the connection opens.
"""

from __future__ import annotations

import asyncio

import aiohttp

from hakube.supervisor.manifest import Probe


def _host(probe: Probe, default_host: str) -> str:
    host = probe.host or default_host
    return f"[{host}]" if ":" in host else host


async def check(probe: Probe, *, default_host: str, session: aiohttp.ClientSession) -> str | None:
    """None when the probe succeeds, else a short reason."""
    try:
        if probe.kind == "tcp":
            async with asyncio.timeout(probe.timeout):
                _reader, writer = await asyncio.open_connection(probe.host or default_host, probe.port)
            writer.close()
            return None
        url = f"{probe.scheme.lower()}://{_host(probe, default_host)}:{probe.port}{probe.path}"
        async with session.get(url, headers=dict(probe.headers), allow_redirects=False,
                               ssl=False,  # HTTPS is not verified, as kubelet does
                               timeout=aiohttp.ClientTimeout(total=probe.timeout)) as resp:
            await resp.content.read(10 * 1024)  # kubelet reads at most 10 KiB of the body
            if 200 <= resp.status < 400:
                return None
            return f"HTTP {resp.status} from {url}"
    except TimeoutError:
        return f"no answer within {probe.timeout:g}s"
    except (aiohttp.ClientError, OSError) as err:
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
