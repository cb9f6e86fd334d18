"""The load balancer in front of the API servers (HAProxy), and the external IP's handoff.

`config` renders HAProxy's configuration, `runtime` speaks its runtime API,
`haproxy` runs the process and changes its backends, `handoff` moves the
external IP between the only API server and the load balancer.
"""

from hakube.lb.config import Backend, LBSettings, render_config
from hakube.lb.handoff import HandoffReport, ReplicaListeners, drain_backend, give_back, take_over
from hakube.lb.haproxy import HAProxy, LoadBalancerError
from hakube.lb.runtime import LBStats, ServerStat

__all__ = [
    "Backend",
    "HAProxy",
    "HandoffReport",
    "LBSettings",
    "LBStats",
    "LoadBalancerError",
    "ReplicaListeners",
    "ServerStat",
    "drain_backend",
    "give_back",
    "render_config",
    "take_over",
]
