"""Start real etcd and API server processes on loopback for tests and benchmarks.

Each `LocalStack` takes its own 127.x.y.z address, so stacks never collide
with each other or with a running cluster; everything it starts it stops,
by pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hakube.cluster import pki
from hakube.cluster.kubeconfig import TokenRow, render_kubeconfig, write_token_file
from hakube.store.etcd import EtcdMemberSpec, etcd_command, find_etcd


def free_loopback_ip(ports: tuple[int, ...] = (2379, 2380, 6443)) -> str:
    for _ in range(200):
        ip = f"127.{random.randint(2, 99)}.{random.randint(0, 255)}.{random.randint(2, 250)}"
        ok = True
        for port in ports:
            with socket.socket() as s:
                try:
                    s.bind((ip, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return ip
    raise RuntimeError("no free loopback address")


def _wait_port(ip: str, port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((ip, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{ip}:{port} did not open in {timeout}s: {log.read_text()[-2000:]}")


@dataclass
class ApiServerProcess:
    ip: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"https://{self.ip}:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class LocalStack:
    """One etcd member plus any number of API servers on it, with PKI and a kubeconfig."""

    root: Path
    etcd_ip: str = ""
    etcd_proc: subprocess.Popen[bytes] | None = None
    apiservers: list[ApiServerProcess] = field(default_factory=list)
    token: str = "test-admin-token"
    user_token: str = "test-user-token"

    @classmethod
    @contextlib.contextmanager
    def running(cls, *apiserver_args: str) -> Iterator[LocalStack]:
        """One etcd and one API server started with `apiserver_args`; everything is cleaned up on exit."""
        stack = cls.create()
        try:
            stack.start_etcd()
            stack.start_apiserver(*apiserver_args)
            yield stack
        finally:
            stack.cleanup()

    @classmethod
    def create(cls, root: Path | None = None) -> LocalStack:
        stack = cls(root or Path(tempfile.mkdtemp(prefix="hakube-test-")))
        stack._pki()
        return stack

    def _pki(self) -> None:
        d = self.root / "pki"
        d.mkdir(parents=True, exist_ok=True)
        self.ca = pki.create_ca("test-ca")
        self.admin = pki.issue_cert(self.ca, common_name="admin", organizations=["system:masters"], client=True)
        for name, ck in (("ca", self.ca), ("admin", self.admin)):
            pki.write_pem(d / f"{name}.crt", ck.cert_pem, private=False)
            pki.write_pem(d / f"{name}.key", ck.key_pem, private=True)
        # The service account signing key, as `hakube up` makes one (TokenRequest and SA tokens).
        pki.write_pem(self.sa_key_file, pki.create_service_account_key(), private=True)
        write_token_file(self.root / "tokens.csv", [
            TokenRow(self.token, "token-admin", "1", ("system:masters",)),
            TokenRow(self.user_token, "alice", "2", ("developers",)),
        ])

    @property
    def ca_file(self) -> Path:
        return self.root / "pki" / "ca.crt"

    @property
    def sa_key_file(self) -> Path:
        return self.root / "pki" / "sa.key"

    def start_etcd(self) -> None:
        path, version = find_etcd()
        self.etcd_ip = free_loopback_ip()
        spec = EtcdMemberSpec(name="test", data_dir=self.root / "etcd", ip=self.etcd_ip)
        log = self.root / "etcd.log"
        self.etcd_proc = subprocess.Popen(
            etcd_command(spec, executable=path, version=version), stdout=open(log, "wb"),
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_port(self.etcd_ip, 2379, self.etcd_proc, log, 20)

    @property
    def etcd_endpoint(self) -> str:
        return f"{self.etcd_ip}:2379"

    def start_apiserver(self, *extra: str, quorum_reads: bool = True,
                        external_ip: str | None = None) -> ApiServerProcess:
        """An API server on a loopback address of its own; its certificate also names `external_ip`."""
        ip = free_loopback_ip((6443,))
        n = len(self.apiservers)
        dns, ips = pki.apiserver_sans(external_ip or ip, ip)
        serving = pki.issue_cert(self.ca, common_name="kube-apiserver", dns_names=dns, ip_addresses=ips,
                                 server=True)
        d = self.root / f"apiserver-{n}"
        d.mkdir(exist_ok=True)
        pki.write_pem(d / "tls.crt", serving.cert_pem, private=False)
        pki.write_pem(d / "tls.key", serving.key_pem, private=True)
        log = d / "apiserver.log"
        argv = [sys.executable, "-m", "hakube.apiserver", f"--etcd-servers={self.etcd_endpoint}",
                f"--bind-address={ip}", "--secure-port=6443", f"--tls-cert-file={d / 'tls.crt'}",
                f"--tls-private-key-file={d / 'tls.key'}", f"--client-ca-file={self.ca_file}",
                f"--token-auth-file={self.root / 'tokens.csv'}",
                f"--service-account-signing-key-file={self.sa_key_file}",
                f"--service-account-key-file={self.sa_key_file}",
                f"--quorum-reads={'true' if quorum_reads else 'false'}", *extra]
        proc = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        server = ApiServerProcess(ip, 6443, proc, log)
        self.apiservers.append(server)
        _wait_port(ip, 6443, proc, log, 30)
        self.wait_ready(server)
        (self.root / f"kubeconfig-{n}").write_text(self.kubeconfig_text(server))
        return server

    def kubeconfig_text(self, server: ApiServerProcess, *, token: str | None = None) -> str:
        if token is not None:
            return render_kubeconfig(cluster_name="test", server=server.url, ca_pem=self.ca.cert_pem,
                                     user="tok", token=token)
        return render_kubeconfig(cluster_name="test", server=server.url, ca_pem=self.ca.cert_pem,
                                 user="admin", client=self.admin)

    def kubeconfig(self, index: int = 0) -> Path:
        return self.root / f"kubeconfig-{index}"

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(self.root / "pki" / "admin.crt", self.root / "pki" / "admin.key")
        return ctx

    def wait_ready(self, server: ApiServerProcess, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        ctx = self.ssl_context()
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{server.url}/readyz", context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if server.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited: {server.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"apiserver not ready: {server.log.read_text()[-3000:]}")

    def stop(self) -> None:
        for server in self.apiservers:
            server.stop()
        if self.etcd_proc is not None and self.etcd_proc.poll() is None:
            self.etcd_proc.terminate()
            try:
                self.etcd_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.etcd_proc.kill()
                self.etcd_proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


async def eventually(predicate: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Wait until `predicate()` holds, polling a bounded number of times; AssertionError if it never does."""
    for _ in range(max(1, int(timeout / interval))):
        if predicate():
            return
        await asyncio.sleep(interval)
    if not predicate():
        raise AssertionError(f"condition not met within {timeout}s")


def kubectl_binary() -> str:
    path = shutil.which("kubectl")
    if path is None:
        raise RuntimeError("kubectl is not installed (the setup script installs it)")
    return path


class Kubectl:
    """The real kubectl with its own kubeconfig and HOME (so its discovery cache is its own)."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
        self.binary = kubectl_binary()

    def run(self, *args: str, input: str | None = None, check: bool = True,
            env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.binary, *args], input=input, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)
