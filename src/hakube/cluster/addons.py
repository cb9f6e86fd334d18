"""The cluster's add-on folder, DIR/addons: its default contents and `hakube addons apply`.

All replicas of a local cluster share one folder (they share the host), so
"copied to every replica and kept identical" is one folder that every
replica's add-on manager reads. Files are replaced atomically (write a
temporary file, then rename), so a manager never reads half a file.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hakube.addons.manager import ENSURE_EXISTS, MODE_LABEL, RECONCILE, SUFFIXES
from hakube.apiserver.bootstrappolicy import PRIORITY_CLASSES
from hakube.cluster.layout import ClusterState, Layout

APISERVER_PORT = 6443


def addons_dir(layout: Layout) -> Path:
    return layout.root / "addons"


def _labelled(obj: dict[str, Any], mode: str) -> dict[str, Any]:
    obj = {**obj, "metadata": {**obj["metadata"]}}
    obj["metadata"]["labels"] = {**(obj["metadata"].get("labels") or {}), MODE_LABEL: mode}
    return obj


def default_addons(state: ClusterState, ca_pem: bytes) -> dict[str, list[dict[str, Any]]]:
    """File name → objects: what `up` puts in the folder."""
    kubeconfig: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "users": None,
        "clusters": [{"name": "", "cluster": {
            "server": f"https://{state.external_ip}:{APISERVER_PORT}",
            "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "contexts": None, "current-context": ""}
    cluster_info = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "cluster-info", "namespace": "kube-public"},
                    "data": {"kubeconfig": yaml.safe_dump(kubeconfig, sort_keys=False)}}
    # kubeadm's bootstrap-signer-clusterinfo: anyone may read cluster-info (and nothing else) in kube-public.
    reader = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
              "metadata": {"name": "hakube:cluster-info-reader", "namespace": "kube-public"},
              "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"],
                         "verbs": ["get"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "hakube:cluster-info-reader", "namespace": "kube-public"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "hakube:cluster-info-reader"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"},
                            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                             "name": "system:authenticated"}]}
    return {
        "00-priorityclasses.yaml": [_labelled(p, ENSURE_EXISTS) for p in PRIORITY_CLASSES],
        "10-cluster-info.yaml": [_labelled(o, RECONCILE) for o in (cluster_info, reader, binding)],
    }


def write_default_addons(layout: Layout, state: ClusterState, ca_pem: bytes) -> None:
    """Create the folder with the default set, once (a user's later changes are theirs)."""
    directory = addons_dir(layout)
    if directory.exists():
        return
    directory.mkdir(parents=True)
    for name, objs in default_addons(state, ca_pem).items():
        _write_atomic(directory / name, yaml.safe_dump_all(objs, sort_keys=False))


def apply_addons(layout: Layout, source: Path) -> list[str]:
    """Copy a file, or a folder's add-on files, into the add-on folder; returns the names copied.

    Every file is parsed first: nothing is copied when one is not valid YAML.
    """
    files = sorted(p for p in source.iterdir() if p.suffix in SUFFIXES) if source.is_dir() else [source]
    if not files:
        raise ValueError(f"no add-on files ({', '.join(SUFFIXES)}) in {source}")
    texts = {}
    for path in files:
        if path.suffix not in SUFFIXES:
            raise ValueError(f"{path.name}: add-on files end in {', '.join(SUFFIXES)}")
        text = path.read_text()
        try:
            list(yaml.safe_load_all(text))
        except yaml.YAMLError as err:
            raise ValueError(f"{path.name}: not valid YAML: {str(err).splitlines()[0]}") from None
        texts[path.name] = text
    directory = addons_dir(layout)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        _write_atomic(directory / name, text)
    return list(texts)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
