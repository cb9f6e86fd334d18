"""The add-on manager: keeps the objects of the add-on folder in the cluster (seed 004).

One runs on every replica with no leader election, as kube-addon-manager
(`cluster/addons/addon-manager/kube-addons.sh`) does; they cannot fight because
each writes only when an object differs from what the folder says, and every
write is a compare-and-set that is retried on conflict. See `manager`.
"""
