"""Auto-repair (kops style, `hakube up --auto-repair`): a replica whose machine died comes back.

A small daemon checks every replica's supervisor every 2 s and starts a dead
one again with its data directory, so the replica rejoins as the same etcd
member — within 10 s of its death. It leaves replicas alone while a replica
add or remove is recorded in progress, and `hakube down` stops it first.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from hakube.cluster import processes
from hakube.cluster.layout import Layout

log = logging.getLogger("auto-repair")
INTERVAL = 2.0


def pidfile(layout: Layout) -> Path:
    return layout.root / "run" / "auto-repair.pid"


def start_repair(layout: Layout) -> None:
    if processes.running_pid(pidfile(layout)) is None:
        processes.start([sys.executable, "-m", "hakube.cluster.repair", f"--cluster-dir={layout.root}"],
                        pidfile=pidfile(layout), log=layout.root / "run" / "auto-repair.log")


def stop_repair(layout: Layout) -> None:
    processes.stop(pidfile(layout), timeout=5)


def repair_once(layout: Layout) -> list[str]:
    """Start the supervisor of every replica whose supervisor is gone; returns what it did."""
    from hakube.cluster.replicas import Replicas

    state = layout.load()
    if state.operation is not None:
        return []
    reps = Replicas(layout, say=log.info)
    done = []
    for replica in state.replicas:
        if reps.supervisor_pid(replica) is None:
            reps.start_supervisor(replica)
            done.append(f"{replica.name}: supervisor was dead; restarted it with its data directory")
    return done


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="hakube-auto-repair")
    p.add_argument("--cluster-dir", type=Path, required=True)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    layout = Layout(args.cluster_dir)
    while True:
        try:
            for line in repair_once(layout):
                log.info("%s", line)
        except (OSError, ValueError) as err:  # a state file being rewritten: try again next round
            log.warning("repair round failed: %s", err)
        time.sleep(INTERVAL)


if __name__ == "__main__":
    main()
