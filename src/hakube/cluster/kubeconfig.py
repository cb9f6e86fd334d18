"""Client credentials on disk: kubeconfig files and the static token file.

A kubeconfig is how kubectl and the official clients find the cluster (its
external address and CA) and who they are (a client certificate whose CN/O are
the user and groups, or a bearer token). The static token file is the API
server's side of bearer tokens, in the CSV format of kube-apiserver's
``--token-auth-file`` (apiserver ``pkg/authentication/token/tokenfile/tokenfile.go``);
reading it follows that file's rules so a token file written for Kubernetes
means the same thing here.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hakube.cluster.pki import CertKey, write_pem

__all__ = ["TokenRow", "read_token_file", "render_kubeconfig", "write_token_file"]

log = logging.getLogger(__name__)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_kubeconfig(
    *,
    cluster_name: str,
    server: str,
    ca_pem: bytes,
    user: str,
    client: CertKey | None = None,
    token: str | None = None,
    namespace: str = "default",
) -> str:
    """A self-contained kubeconfig (credentials inlined as ``*-data``) with one
    cluster, one user and the context ``<user>@<cluster_name>`` selected.

    Exactly one of ``client`` (x509) and ``token`` (bearer) is required.
    """
    if not cluster_name or not user:
        raise ValueError("a kubeconfig needs a cluster name and a user name")
    if not server.startswith("https://"):
        raise ValueError(f"server must be an https:// URL, got {server!r}")
    if client is not None and token is not None:
        raise ValueError("give a client certificate or a token, not both")
    credentials: dict[str, str]
    if client is not None:
        credentials = {
            "client-certificate-data": _b64(client.cert_pem),
            "client-key-data": _b64(client.key_pem),
        }
    elif token is not None:
        if not token or any(c.isspace() for c in token):
            raise ValueError("a bearer token must be non-empty and contain no whitespace")
        credentials = {"token": token}
    else:
        raise ValueError("a kubeconfig user needs a client certificate or a token")
    context = f"{user}@{cluster_name}"
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {"name": context, "context": {"cluster": cluster_name, "user": user, "namespace": namespace}}
        ],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


@dataclass(frozen=True)
class TokenRow:
    """One line of a static token file: who a bearer token authenticates as."""

    token: str
    user: str
    uid: str
    groups: tuple[str, ...] = ()


def write_token_file(path: Path, rows: Sequence[TokenRow]) -> None:
    """Write ``rows`` as ``token,user,uid[,"g1,g2"]`` (mode 0600, atomically).

    Refuses what the format cannot carry: empty or duplicate tokens, a comma
    inside a group name (the groups column is split on commas), line breaks.
    """
    seen: set[str] = set()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for number, row in enumerate(rows, start=1):
        fields = [row.token, row.user, row.uid, *row.groups]
        if any("\n" in f or "\r" in f for f in fields):
            raise ValueError(f"token row {number}: values may not contain line breaks")
        if not row.token:
            raise ValueError(f"token row {number}: empty token")
        if row.token in seen:
            raise ValueError(f"token row {number}: duplicate token for user {row.user!r}")
        seen.add(row.token)
        if any("," in g for g in row.groups):
            raise ValueError(f"token row {number}: a group name may not contain a comma")
        record = [row.token, row.user, row.uid]
        if row.groups:
            record.append(",".join(row.groups))
        writer.writerow(record)
    write_pem(path, out.getvalue().encode("utf-8"), private=True)


def read_token_file(path: Path) -> dict[str, TokenRow]:
    """Read a static token file with kube-apiserver's rules.

    Every record needs at least 3 columns (token, user, uid); a record with an
    empty token is skipped; the 4th column, when present, is split on commas
    (so an empty 4th column gives the single group ``""``, as in Kubernetes);
    for a repeated token the last record wins. A malformed file raises
    ``ValueError`` naming the file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    tokens: dict[str, TokenRow] = {}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise ValueError(f"{path}:{reader.line_num}: {err}") from None
        if not record:  # a blank line, which Go's encoding/csv skips as well
            continue
        if len(record) < 3:
            raise ValueError(
                f"{path}:{reader.line_num}: token file must have at least 3 columns "
                f"(token, user name, user uid), found {len(record)}"
            )
        token = record[0]
        if not token:
            log.warning("%s:%d: empty token, record skipped", path, reader.line_num)
            continue
        if token in tokens:
            log.warning("%s:%d: duplicate token, the later record wins", path, reader.line_num)
        groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
        tokens[token] = TokenRow(token=token, user=record[1], uid=record[2], groups=groups)
    return tokens
