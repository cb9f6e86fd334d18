"""Run one real etcd member of a replica as a child process.

Every replica runs the real etcd (never a reimplementation): the cluster's
consistency rests on it. This module finds a usable binary (refusing versions
with known data-loss bugs), builds the member's command line from a small frozen
spec, starts it, waits until it reports healthy, and stops it — only ever the
process it started.

Version policy: etcd 3.5.0 to 3.5.2 can lose committed writes when a member
crashes under load, because the consistent index and the data were not
committed atomically (etcd's own advisory, etcd-io/etcd#13766, fixed in 3.5.3).
Releases before 3.4 lack learners, which replica add relies on.

The TLS seam: with ``EtcdMemberSpec.tls`` set, client and peer URLs are https
and both sides require client certificates, as kube-up's etcd manifest and
kubeadm configure members. Member certificates are then issued for server and
client use: etcd's own gRPC gateway, its peers and our health probe present
the member certificate as a client certificate.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import os
import re
import shutil
import signal
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp

__all__ = [
    "EtcdMemberSpec",
    "EtcdProcess",
    "EtcdStartError",
    "EtcdTLS",
    "EtcdVersionError",
    "check_etcd_version",
    "etcd_command",
    "find_etcd",
]

MINIMUM_VERSION = (3, 4, 0)
# etcd-io/etcd#13766: a crash can lose committed transactions on some members.
REFUSED_VERSIONS = frozenset({(3, 5, 0), (3, 5, 1), (3, 5, 2)})

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")
_LOG_TAIL_LINES = 25


class EtcdVersionError(Exception):
    """No usable etcd binary: missing, unreadable version, or a refused version."""


class EtcdStartError(Exception):
    """An etcd member exited or did not become healthy while starting."""


def _parse_version(version: str) -> tuple[int, int, int]:
    match = _VERSION_RE.match(version.strip())
    if match is None:
        raise EtcdVersionError(f"cannot parse etcd version {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _version_problem(version: str) -> str | None:
    """Why this etcd version must not be used, or None when it may."""
    parsed = _parse_version(version)
    if parsed in REFUSED_VERSIONS:
        return (
            "etcd 3.5.0-3.5.2 can lose committed writes after a crash "
            "(etcd advisory, etcd-io/etcd#13766); use 3.4.x or 3.5.3 or later"
        )
    if parsed < MINIMUM_VERSION:
        return "etcd older than 3.4.0 is not supported (no learner members); use 3.4.x or 3.5.3 or later"
    return None


def check_etcd_version(version: str) -> None:
    """Raise EtcdVersionError when ``version`` (e.g. "3.4.23") must not be used."""
    problem = _version_problem(version)
    if problem is not None:
        raise EtcdVersionError(f"etcd {version} is not usable: {problem}")


def _read_version(executable: Path) -> str:
    try:
        result = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EtcdVersionError(f"{executable}: cannot run it to read its version ({err})") from None
    match = re.search(r"etcd Version:\s*(\S+)", result.stdout)
    if match is None:
        raise EtcdVersionError(f"{executable}: no 'etcd Version:' line in the output of --version")
    return match.group(1)


def find_etcd() -> tuple[Path, str]:
    """The first usable etcd on PATH and its version, e.g. ``(Path(".../etcd"), "3.4.23")``.

    Every ``etcd`` on PATH is considered in order, so a refused version early
    on PATH does not hide a good one later; when none is usable the error names
    each one found and why it was refused.
    """
    candidates: list[Path] = []
    seen: set[Path] = set()
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        found = shutil.which("etcd", path=directory or ".")
        if found is None:
            continue
        real = Path(found).resolve()
        if real not in seen:
            seen.add(real)
            candidates.append(Path(found))
    if not candidates:
        raise EtcdVersionError("no etcd executable on PATH; install etcd 3.4.x or 3.5.3 or later")
    refusals: list[str] = []
    for executable in candidates:
        try:
            version = _read_version(executable)
            problem = _version_problem(version)
        except EtcdVersionError as err:
            refusals.append(str(err))
            continue
        if problem is None:
            return executable, version
        refusals.append(f"{executable} is {version}: {problem}")
    raise EtcdVersionError("no usable etcd on PATH: " + "; ".join(refusals))


@dataclass(frozen=True)
class EtcdTLS:
    """Certificate files of one member; peer files default to the client-side ones."""

    cert_file: Path
    key_file: Path
    trusted_ca_file: Path
    peer_cert_file: Path | None = None
    peer_key_file: Path | None = None
    peer_trusted_ca_file: Path | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the member's CA and presents the member's certificate."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.trusted_ca_file))
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


@dataclass(frozen=True)
class EtcdMemberSpec:
    """How one etcd member runs: identity, addresses, cluster bootstrap and timings."""

    name: str
    data_dir: Path
    ip: str
    client_port: int = 2379
    peer_port: int = 2380
    # Where the member itself listens for peers when that differs from the
    # advertised peer_port (a network-fault proxy listens there: hakube.chaos.netproxy).
    listen_peer_port: int | None = None
    initial_cluster: str | None = None  # "name=peer_url,…"; None: this member alone
    initial_cluster_state: str = "new"  # "new" or "existing" (joining a running cluster)
    tls: EtcdTLS | None = None
    # Keeps members of two clusters from joining each other by mistake.
    initial_cluster_token: str = "hakube-etcd"
    # etcd's defaults, right for loopback (RTT ~0.05 ms); etcd tuning.md asks for
    # heartbeat about one RTT and an election timeout of at least 10 RTTs, equal on all members.
    heartbeat_interval_ms: int = 100
    election_timeout_ms: int = 1000
    quota_backend_bytes: int = 2 * 1024**3  # etcd's default; 8 GiB is its suggested maximum
    snapshot_count: int = 10_000  # kubeadm's value (phases/etcd/local.go); 3.4 defaults to 100 000

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in ",= \t\n"):
            raise ValueError(f"invalid etcd member name {self.name!r}")
        ipaddress.ip_address(self.ip)  # ValueError on a bad address
        for port in (self.client_port, self.peer_port, self.listen_peer_port or self.peer_port):
            if not 0 < port < 65536:
                raise ValueError(f"invalid port {port}")
        if self.client_port == self.peer_port:
            raise ValueError("client and peer ports must differ")
        if self.initial_cluster_state not in ("new", "existing"):
            raise ValueError(
                f"initial_cluster_state must be 'new' or 'existing', not {self.initial_cluster_state!r}"
            )
        # etcd itself refuses an election timeout under 5 heartbeats (embed/config.go).
        if self.heartbeat_interval_ms <= 0 or self.election_timeout_ms < 5 * self.heartbeat_interval_ms:
            raise ValueError("election timeout must be at least 5 heartbeat intervals")

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def _host(self) -> str:
        return f"[{self.ip}]" if ":" in self.ip else self.ip

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://{self._host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"{self.scheme}://{self._host}:{self.peer_port}"

    @property
    def listen_peer_url(self) -> str:
        return f"{self.scheme}://{self._host}:{self.listen_peer_port or self.peer_port}"


def etcd_command(
    spec: EtcdMemberSpec, *, executable: Path | str = "etcd", version: str | None = None
) -> list[str]:
    """The full argv of the member. ``version`` only drops flags newer etcd removed."""
    argv = [
        str(executable),
        f"--name={spec.name}",
        f"--data-dir={spec.data_dir}",
        f"--listen-client-urls={spec.client_url}",
        f"--advertise-client-urls={spec.client_url}",
        f"--listen-peer-urls={spec.listen_peer_url}",
        f"--initial-advertise-peer-urls={spec.peer_url}",
        f"--initial-cluster={spec.initial_cluster or f'{spec.name}={spec.peer_url}'}",
        f"--initial-cluster-state={spec.initial_cluster_state}",
        f"--initial-cluster-token={spec.initial_cluster_token}",
        f"--heartbeat-interval={spec.heartbeat_interval_ms}",
        f"--election-timeout={spec.election_timeout_ms}",
        # A member cut off by a partition must not depose a healthy leader when
        # it comes back (raft PreVote; the default from etcd 3.6).
        "--pre-vote=true",
        f"--quota-backend-bytes={spec.quota_backend_bytes}",
        f"--snapshot-count={spec.snapshot_count}",
        # No --auto-compaction-*: the API server compacts, as kube-apiserver does.
        # No --listen-metrics-urls: /metrics and /health stay on the client URL only.
        "--logger=zap",
        "--log-outputs=stderr",
    ]
    if version is None or _parse_version(version) < (3, 6, 0):
        argv.append("--enable-v2=false")  # the flag is gone in 3.6, where v2 is gone too
    if spec.tls is not None:
        tls = spec.tls
        argv += [
            f"--cert-file={tls.cert_file}",
            f"--key-file={tls.key_file}",
            f"--trusted-ca-file={tls.trusted_ca_file}",
            "--client-cert-auth=true",
            f"--peer-cert-file={tls.peer_cert_file or tls.cert_file}",
            f"--peer-key-file={tls.peer_key_file or tls.key_file}",
            f"--peer-trusted-ca-file={tls.peer_trusted_ca_file or tls.trusted_ca_file}",
            "--peer-client-cert-auth=true",
        ]
    return argv


class EtcdProcess:
    """One running etcd member, started and stopped by us.

    Use ``async with EtcdProcess(spec) as member:`` or call ``start``/``stop``.
    Members of a new multi-member cluster only report healthy once a quorum is
    up, so start them concurrently (``asyncio.gather``), not one after another.
    Stop them one after another instead: on SIGTERM a leader first hands its
    leadership to a connected follower, and if that follower is stopping too it
    waits out the transfer timeout (5 s plus two election timeouts).
    """

    def __init__(
        self,
        spec: EtcdMemberSpec,
        *,
        log_path: Path | None = None,
        binary: tuple[Path, str] | None = None,
    ) -> None:
        self.spec = spec
        self._log_path = log_path
        self._binary = binary  # (path, version) as find_etcd returns; found on start when None
        self._proc: asyncio.subprocess.Process | None = None
        self._log_offset = 0
        self._tail: collections.deque[str] = collections.deque(maxlen=_LOG_TAIL_LINES)
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def client_url(self) -> str:
        return self.spec.client_url

    @property
    def peer_url(self) -> str:
        return self.spec.peer_url

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # A timeout parameter, not a cancel scope: on expiry start() stops the member and
    # reports its log, stop() escalates to SIGKILL.
    async def start(self, *, timeout: float = 20) -> None:
        """Spawn the member and return once ``/health`` on its client URL says healthy.

        If it exits or is not healthy within ``timeout`` seconds it is stopped
        and EtcdStartError carries the tail of its log; nothing keeps running.
        """
        if self.running:
            raise RuntimeError(f"etcd member {self.spec.name} is already running (pid {self.pid})")
        if self._binary is None:
            self._binary = await asyncio.to_thread(find_etcd)
        executable, version = self._binary
        self.spec.data_dir.mkdir(parents=True, exist_ok=True)
        self.spec.data_dir.chmod(0o700)  # etcd warns about (3.4) or refuses (3.5) wider modes
        argv = etcd_command(self.spec, executable=executable, version=version)
        try:
            await self._spawn(argv)
            await self._wait_healthy(timeout)
        except BaseException:
            await self.stop()
            raise

    async def _spawn(self, argv: list[str]) -> None:
        self._tail.clear()
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            try:
                self._log_offset = os.lseek(fd, 0, os.SEEK_END)
                # The child gets its own copy of the descriptor.
                self._proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd
                )
            finally:
                os.close(fd)
        else:
            self._proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self._drain = asyncio.create_task(
                self._drain_stderr(self._proc), name=f"etcd-{self.spec.name}-stderr"
            )

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        """Keep the last log lines (for error messages) and keep the pipe from filling up."""
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            self._tail.append(line.decode("utf-8", "replace").rstrip())

    def _log_tail(self) -> str:
        lines: list[str]
        if self._log_path is not None:
            try:
                with open(self._log_path, "rb") as f:
                    f.seek(self._log_offset)
                    data = f.read()
            except OSError as err:
                return f"  (cannot read {self._log_path}: {err})"
            lines = data.decode("utf-8", "replace").splitlines()[-_LOG_TAIL_LINES:]
        else:
            lines = list(self._tail)
        if not lines:
            return "  (no log output)"
        return "\n".join(f"  {line}" for line in lines)

    async def _probe(
        self, session: aiohttp.ClientSession, ssl_context: ssl.SSLContext | bool, *, limit: float
    ) -> str | None:
        """None when healthy, else why not."""
        try:
            async with session.get(
                f"{self.client_url}/health", ssl=ssl_context, timeout=aiohttp.ClientTimeout(total=limit)
            ) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        if response.status == 200 and isinstance(body, dict) and body.get("health") == "true":
            return None
        return f"HTTP {response.status}: {body}"

    async def _wait_healthy(self, limit: float) -> None:
        proc = self._proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        ssl_context: ssl.SSLContext | bool = self.spec.tls.ssl_context() if self.spec.tls else False
        last = "not probed yet"
        exited = asyncio.create_task(proc.wait(), name=f"etcd-{self.spec.name}-exit")
        probing: asyncio.Task[str | None] | None = None
        try:
            async with aiohttp.ClientSession() as session:
                while True:
                    if exited.done():
                        await self._finish_drain()
                        raise EtcdStartError(
                            f"etcd member {self.spec.name} exited with code {proc.returncode} while "
                            f"starting; last log lines:\n{self._log_tail()}"
                        )
                    # Race the probe against an exit: a squatter on the client port
                    # would otherwise hold the probe until its own timeout.
                    probing = asyncio.create_task(
                        self._probe(session, ssl_context, limit=min(2.0, max(0.1, deadline - loop.time()))),
                        name=f"etcd-{self.spec.name}-probe",
                    )
                    await asyncio.wait({probing, exited}, return_when=asyncio.FIRST_COMPLETED)
                    if not probing.done():
                        probing.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await probing
                        continue
                    probe = probing.result()
                    if probe is None:
                        return
                    last = probe
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        raise EtcdStartError(
                            f"etcd member {self.spec.name} not healthy at {self.client_url} within "
                            f"{limit:g}s (last probe: {last}); last log lines:\n{self._log_tail()}"
                        )
                    # Sleep a little, waking at once if the process exits.
                    await asyncio.wait({exited}, timeout=min(0.2, remaining))
        finally:
            for task in (exited, probing):
                if task is not None and not task.done():
                    task.cancel()

    async def _finish_drain(self) -> None:
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 2)
            self._drain = None

    async def stop(self, *, timeout: float = 10) -> None:
        """SIGTERM our member, SIGKILL it after ``timeout`` seconds; wait until it is reaped."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        await self._finish_drain()
