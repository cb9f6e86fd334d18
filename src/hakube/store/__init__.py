"""Storage: etcd process control and the async compare-and-set storage layer."""
