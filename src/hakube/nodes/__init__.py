"""Hollow nodes: many fake kubelets in one process (like kubemark's hollow nodes and kwok).

Each node registers a Node, renews its Lease in kube-node-lease and moves
the pods bound to it to Running, talking to the API like a kubelet with its
own client certificate. No container runs anywhere.
"""
