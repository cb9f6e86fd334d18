"""What every `hakube` command shares: output, one-line errors, the cluster directory option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hakube.cluster.layout import LockedError, default_cluster_dir
from hakube.cluster.local import ClusterError, LocalCluster
from hakube.cluster.network import NetworkError
from hakube.cluster.replicas import ReplicaError
from hakube.lb import LoadBalancerError
from hakube.store.errors import StoreError
from hakube.store.etcd import EtcdVersionError

err = Console(stderr=True, soft_wrap=True)  # an error is one line, however long
out = Console(soft_wrap=True)

ClusterDir = Annotated[Path | None, typer.Option("--cluster-dir", help="cluster directory "
                                                 "(default: $HAKUBE_CLUSTER_DIR or ~/.hakube/default)")]


def cluster_path(value: Path | None) -> Path:
    return (value or default_cluster_dir()).expanduser().absolute()


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(1)


def user_error(e: BaseException) -> typer.Exit:
    if isinstance(e, OSError) and not isinstance(e, ConnectionError):
        return fail(f"{e.strerror or e}: {e.filename or ''}")
    return fail(str(e))


# Errors a user or the cluster's state can cause: one line, no traceback.
USER_ERRORS = (ClusterError, EtcdVersionError, ReplicaError, NetworkError, LockedError, StoreError, LoadBalancerError,
               OSError)


def count_warning(n: int) -> str | None:
    """DESIGN.md §4: two replicas are worse than one; other even counts tolerate no more failures than n-1."""
    if n == 2:
        return ("warning: a cluster of two replicas is worse than one (etcd consensus needs both); "
                "add a third replica")
    if n > 2 and n % 2 == 0:
        return f"warning: {n} replicas tolerate no more failures than {n - 1}; an odd count is better"
    return None


def existing(cluster_dir: Path | None) -> LocalCluster:
    cluster = LocalCluster(cluster_path(cluster_dir), say=lambda m: out.print(m, markup=False, highlight=False))
    if not cluster.layout.exists():
        raise fail(f"no cluster in {cluster.layout.root}; create one with 'hakube up'")
    return cluster
