"""Cluster-level state: the cluster directory, PKI and kubeconfigs."""
