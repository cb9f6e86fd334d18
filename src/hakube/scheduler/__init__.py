"""The scheduler: assigns pending pods to nodes (kube-scheduler's semantics, in memory, in Python)."""
