"""kubeconfig and token files: what kubectl and the official client accept, and kube's CSV rules."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from hakube.cluster.kubeconfig import TokenRow, read_token_file, render_kubeconfig, write_token_file
from hakube.cluster.pki import CertKey, apiserver_sans, create_ca, issue_cert, write_pem

VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0",
    "gitCommit": "0",
    "gitTreeState": "clean",
    "buildDate": "2024-01-01T00:00:00Z",
    "goVersion": "go1.22",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@pytest.fixture(scope="module")
def ca() -> CertKey:
    return create_ca("hakube-ca")


@pytest.fixture(scope="module")
def admin(ca: CertKey) -> CertKey:
    return issue_cert(ca, common_name="admin", organizations=["system:masters"], client=True)


def _render(ca: CertKey, **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "cluster_name": "ha",
        "server": "https://127.0.0.9:6443",
        "ca_pem": ca.cert_pem,
        "user": "admin",
    }
    args.update(kwargs)
    loaded = yaml.safe_load(render_kubeconfig(**args))
    assert isinstance(loaded, dict)
    return loaded


def test_render_with_client_cert(ca: CertKey, admin: CertKey) -> None:
    config = _render(ca, client=admin, namespace="kube-system")
    assert config["apiVersion"] == "v1" and config["kind"] == "Config"
    assert config["current-context"] == "admin@ha"
    [cluster] = config["clusters"]
    assert cluster["name"] == "ha"
    assert cluster["cluster"]["server"] == "https://127.0.0.9:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == ca.cert_pem
    [user] = config["users"]
    assert user["name"] == "admin"
    assert base64.b64decode(user["user"]["client-certificate-data"]) == admin.cert_pem
    assert base64.b64decode(user["user"]["client-key-data"]) == admin.key_pem
    assert config["contexts"] == [
        {"name": "admin@ha", "context": {"cluster": "ha", "user": "admin", "namespace": "kube-system"}}
    ]
    assert config["preferences"] == {}


def test_render_with_token(ca: CertKey) -> None:
    config = _render(ca, user="tok", token="abc123")
    assert config["users"] == [{"name": "tok", "user": {"token": "abc123"}}]
    assert config["current-context"] == "tok@ha"
    assert config["contexts"][0]["context"]["namespace"] == "default"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # no credentials
        {"token": "t", "client": "both"},
        {"token": ""},
        {"token": "has space"},
        {"token": "t", "server": "http://127.0.0.1:8080"},
        {"token": "t", "user": ""},
        {"token": "t", "cluster_name": ""},
    ],
)
def test_render_refuses(ca: CertKey, admin: CertKey, kwargs: dict[str, Any]) -> None:
    if kwargs.get("client") == "both":
        kwargs = {**kwargs, "client": admin}
    with pytest.raises(ValueError):
        _render(ca, **kwargs)


@dataclass
class _Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def https_server(tmp_path: Path, ca: CertKey) -> Iterator[tuple[str, _Seen]]:
    """A tiny HTTPS API on 127.0.0.1 serving /version and recording who called it."""
    dns, ips = apiserver_sans("127.0.0.1", "127.0.0.1")
    serving = issue_cert(ca, common_name="kube-apiserver", dns_names=dns, ip_addresses=ips, server=True)
    write_pem(tmp_path / "srv.crt", serving.cert_pem, private=False)
    write_pem(tmp_path / "srv.key", serving.key_pem, private=True)
    write_pem(tmp_path / "ca.crt", ca.cert_pem, private=False)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.crt"))
    context.load_cert_chain(str(tmp_path / "srv.crt"), str(tmp_path / "srv.key"))
    context.verify_mode = ssl.CERT_OPTIONAL  # client certificates or bearer tokens
    seen = _Seen()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert isinstance(self.connection, ssl.SSLSocket)
            peer = self.connection.getpeercert()
            subject = [attr for rdn in peer["subject"] for attr in rdn] if peer else []
            seen.requests.append(
                {"path": self.path, "authorization": self.headers.get("Authorization"), "subject": subject}
            )
            body = json.dumps(VERSION).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="test-https", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _kubectl_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "KUBECONFIG"}
    env["HOME"] = os.environ.get("HOME", "/nonexistent")
    return env


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("kind", ["cert", "token"])
def test_kubectl_uses_the_kubeconfig(
    tmp_path: Path, ca: CertKey, admin: CertKey, https_server: tuple[str, _Seen], kind: str
) -> None:
    url, seen = https_server
    credentials: dict[str, Any] = {"client": admin} if kind == "cert" else {"token": "s3cret"}
    path = tmp_path / "kubeconfig"
    path.write_text(
        render_kubeconfig(cluster_name="ha", server=url, ca_pem=ca.cert_pem, user="admin", **credentials)
    )
    kubectl = ["kubectl", f"--kubeconfig={path}"]
    view = subprocess.run(
        [*kubectl, "config", "view", "--raw", "-o", "json"],
        capture_output=True, text=True, timeout=30, check=True, env=_kubectl_env(),
    )
    assert json.loads(view.stdout)["current-context"] == "admin@ha"
    result = subprocess.run(
        [*kubectl, "get", "--raw", "/version"],
        capture_output=True, text=True, timeout=30, check=False, env=_kubectl_env(),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gitVersion"] == "v1.30.0"
    request = seen.requests[-1]
    if kind == "cert":
        assert ("commonName", "admin") in request["subject"]
        assert ("organizationName", "system:masters") in request["subject"]
    else:
        assert request["authorization"] == "Bearer s3cret"


def test_official_python_client_uses_the_kubeconfig(
    tmp_path: Path, ca: CertKey, admin: CertKey, https_server: tuple[str, _Seen]
) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    url, seen = https_server
    path = tmp_path / "kubeconfig"
    path.write_text(
        render_kubeconfig(cluster_name="ha", server=url, ca_pem=ca.cert_pem, user="admin", client=admin)
    )
    api = kubernetes.config.new_client_from_config(config_file=str(path))
    try:
        info = kubernetes.client.VersionApi(api).get_code()
    finally:
        api.close()
    assert info.git_version == "v1.30.0"
    assert ("commonName", "admin") in seen.requests[-1]["subject"]


# --- token file -------------------------------------------------------------------------------


def test_token_file_round_trip(tmp_path: Path) -> None:
    rows = [
        TokenRow(token="t1", user="admin", uid="1", groups=("system:masters", "ops")),
        TokenRow(token="t2", user="bob", uid="2"),
        TokenRow(token="t3", user="carol, the second", uid="3", groups=("g",)),
    ]
    path = tmp_path / "tokens.csv"
    write_token_file(path, rows)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines() == [
        't1,admin,1,"system:masters,ops"',
        "t2,bob,2",
        't3,"carol, the second",3,g',
    ]
    assert read_token_file(path) == {row.token: row for row in rows}


@pytest.mark.parametrize(
    "rows",
    [
        [TokenRow(token="", user="u", uid="1")],
        [TokenRow(token="t", user="u", uid="1"), TokenRow(token="t", user="v", uid="2")],
        [TokenRow(token="t", user="u", uid="1", groups=("a,b",))],
        [TokenRow(token="t", user="u\nv", uid="1")],
    ],
)
def test_write_token_file_refuses(tmp_path: Path, rows: list[TokenRow]) -> None:
    with pytest.raises(ValueError):
        write_token_file(tmp_path / "tokens.csv", rows)
    assert not (tmp_path / "tokens.csv").exists()


def test_read_token_file_follows_kube_rules(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(
        "\n".join(
            [
                'abc,admin,1,"system:masters,ops"',
                ",skipped,2",  # empty token: skipped
                "",  # blank line: ignored
                "def,bob,3",  # 3 columns: no groups
                "ghi,carol,4,single,extra-column-ignored",
                "jkl,dave,5,",  # an empty 4th column splits into one empty group
                "abc,admin2,6",  # a repeated token: the later record wins
            ]
        )
        + "\n"
    )
    tokens = read_token_file(path)
    assert tokens == {
        "abc": TokenRow(token="abc", user="admin2", uid="6"),
        "def": TokenRow(token="def", user="bob", uid="3"),
        "ghi": TokenRow(token="ghi", user="carol", uid="4", groups=("single",)),
        "jkl": TokenRow(token="jkl", user="dave", uid="5", groups=("",)),
    }


def test_read_token_file_crlf(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_bytes(b'abc,admin,1,"a,b"\r\ndef,bob,2\r\n')
    assert read_token_file(path)["abc"].groups == ("a", "b")
    assert read_token_file(path)["def"].uid == "2"


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("abc,admin,1\ndef,bob\n", 2, "at least 3 columns"),
        ("abc,admin,1\n\nonlytoken\n", 3, "at least 3 columns"),
        ('abc,admin,1\ndef,"bob"x,2\n', 2, ""),
    ],
)
def test_read_token_file_errors_name_the_line(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"{path}:{line}: .*{message}"):
        read_token_file(path)


def test_read_token_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_bytes(b"abc,\xff,1\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_token_file(path)
