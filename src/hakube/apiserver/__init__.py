"""The Kubernetes-compatible API server of a hakube replica."""
