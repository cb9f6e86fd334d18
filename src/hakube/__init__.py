"""hakube: a highly available, Kubernetes-compatible control plane."""

__version__ = "0.1.0"

# The Kubernetes API level this server speaks. kubectl's dispatcher picks its
# binary from the minor version reported on /version (API-COMPAT.md §0).
KUBE_VERSION = "v1.32.4"
