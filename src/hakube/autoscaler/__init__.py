"""The cluster autoscaler: grows and shrinks the hollow-node groups of a local cluster."""
