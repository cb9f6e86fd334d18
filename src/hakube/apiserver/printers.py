"""Server-side Table rows, as kube-apiserver prints them for `kubectl get`.

kubectl asks for `application/json;as=Table` and prints whatever columns and
cells the server returns (API-COMPAT.md §1.5), so READY, STATUS, RESTARTS and
AGE are computed here, the way k/k `pkg/printers/internalversion/printers.go`
(release-1.32) computes them. The server always prints "wide"
(`pkg/printers/storage/storage.go` passes `Wide: true`); kubectl hides
priority-1 columns unless `-o wide`. Resources without a printer get apiserver
`pkg/registry/rest/table.go`'s default: Name and Created At.

Column descriptions are the upstream SwaggerDoc() texts (kubernetes/api and
apimachinery `types_swagger_doc_generated.go`, release-1.32), copied verbatim.
Rows are computed from the stored (v1, defaulted) JSON object; where upstream
reads an internal-version field, the v1 → internal conversion is mirrored
(e.g. `status.podIP` wins over `status.podIPs`, Secret `stringData` counts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hakube.apiserver.selectors import format_label_selector, format_labels, label_selector_from_dict
from hakube.apiserver.timefmt import format_time, human_age, human_duration, parse_time


@dataclass(frozen=True)
class Column:
    """A metav1.TableColumnDefinition; priority 1 columns only show with `-o wide`."""

    name: str
    type: str
    format: str = ""
    description: str = ""
    priority: int = 0


# --- column descriptions, verbatim from upstream SwaggerDoc() ------------------------------------

_D_NAME = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. Name "
    "is primarily intended for creation idempotence and configuration definition. Cannot be updated. "
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_D_CREATED = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is "
    "not guaranteed to be set in happens-before order across separate operations. Clients may not set "
    "this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_D_POD_IP = (
    "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
    "allocated."
)
_D_NODE_NAME = (
    "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for "
    "scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for "
    "this node becomes responsible for the lifecycle of this pod. This field should not be used to "
    "express a desire for the pod to be scheduled on a specific node. "
    "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"
)
_D_NOMINATED = (
    "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be "
    "scheduled right away as preemption victims receive their graceful termination periods. This field "
    "does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the "
    "pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the "
    "resources on this node to a higher priority pod that is created after preemption. As a result, "
    "this field may be different than PodSpec.nodeName when the pod is scheduled."
)
_D_READINESS_GATES = (
    "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all "
    "its containers are ready AND all conditions specified in the readiness gates have status equal to "
    "\"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"
)
_D_KUBELET_VERSION = "Kubelet Version reported by the node."
_D_NODE_ADDRESSES = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as "
    "mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it "
    "is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for "
    "an example. Consumers should assume that addresses can change during the lifetime of a Node. "
    "However, there are some exceptions where this may not be possible, such as Pods that inherit a "
    "Node's address in its own status or consumers of the downward API (status.hostIP)."
)
_D_OS_IMAGE = "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."
_D_KERNEL = "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."
_D_CRI = (
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
    "containerd://1.4.2)."
)
_D_EV_LAST = "The time at which the most recent occurrence of this event was recorded."
_D_EV_TYPE = "Type of this event (Normal, Warning), new types could be added in the future"
_D_EV_REASON = (
    "This should be a short, machine understandable string that gives the reason for the transition "
    "into the object's current status."
)
_D_EV_OBJECT = "The object that this event is about."
_D_EV_FIELDPATH = (
    "If referring to a piece of an object instead of an entire object, this string should contain a "
    "valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, "
    "if the object reference is to a container within a pod, this would take on a value like: "
    "\"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the "
    "event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in "
    "this pod). This syntax is chosen only to have some well-defined way of referencing a part of an "
    "object."
)
_D_EV_SOURCE = "The component reporting this event. Should be a short machine understandable string."
_D_EV_MESSAGE = "A human-readable description of the status of this operation."
_D_EV_FIRST = "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"
_D_EV_COUNT = "The number of times this event has occurred."
_D_SECRET_TYPE = (
    "Used to facilitate programmatic handling of secret data. More info: "
    "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"
)
_D_SECRET_DATA = (
    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. "
    "The serialized form of the secret data is a base64 encoded string, representing the arbitrary "
    "(possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"
)
_D_SA_SECRETS = (
    "Secrets is a list of the secrets in the same namespace that pods running using this "
    "ServiceAccount are allowed to use. Pods are only limited to this list if this service account has "
    "a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The "
    "\"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate "
    "namespaces to isolate access to mounted secrets. This field should not be used to find "
    "auto-generated service account token secrets for use outside of pods. Instead, tokens can be "
    "requested directly using the TokenRequest API, or service account token secrets can be manually "
    "created. More info: https://kubernetes.io/docs/concepts/configuration/secret"
)
_D_SLICE_ADDRESS_TYPE = (
    "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice "
    "must be the same type. This field is immutable after creation. The following address types are "
    "currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: "
    "Represents a Fully Qualified Domain Name."
)
_D_SLICE_PORTS = (
    "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a "
    "unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined "
    "with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports."
)
_D_SLICE_ENDPOINTS = (
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 "
    "endpoints."
)
_D_EP_SUBSETS = (
    "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according "
    "to the IPs they share. A single address with multiple ports, some of which are ready and some of "
    "which are not (because they come from different containers) will result in the address being "
    "displayed in different subsets for the different ports. No address will appear in both Addresses "
    "and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service."
)
_D_SVC_TYPE = (
    "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
    "ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal "
    "IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that "
    "is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If "
    "clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of "
    "endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on "
    "every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on "
    "NodePort and creates an external load-balancer (if supported in the current cloud) which routes "
    "to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified "
    "externalName. Several other fields do not apply to ExternalName services. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"
)
_D_SVC_CLUSTER_IP = (
    "clusterIP is the IP address of the service and is usually assigned randomly. If an address is "
    "specified manually, is in-range (as per system configuration), and is not in use, it will be "
    "allocated to the service; otherwise creation of the service will fail. This field may not be "
    "changed through updates unless the type field is also being changed to ExternalName (which "
    "requires this field to be blank) or the type field is being changed from ExternalName (in which "
    "case this field may optionally be specified, as describe above).  Valid values are \"None\", "
    "empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" "
    "(no virtual IP), which is useful when direct endpoint connections are preferred and proxying is "
    "not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is "
    "specified when creating a Service of type ExternalName, creation will fail. This field will be "
    "wiped when updating a Service to type ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)
_D_SVC_EXTERNAL_IPS = (
    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for "
    "this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring "
    "that traffic arrives at a node with this IP.  A common example is external load-balancers that "
    "are not part of the Kubernetes system."
)
_D_SVC_PORTS = (
    "The list of ports that are exposed by this service. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)
_D_SVC_SELECTOR = (
    "Route service traffic to pods with label keys and values matching this selector. If empty or not "
    "present, the service is assumed to have an external process managing its endpoints, which "
    "Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored "
    "if type is ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/"
)
_D_CM_DATA = (
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' "
    "or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in "
    "Data must not overlap with the keys in the BinaryData field, this is enforced during validation "
    "process."
)
_D_NODE_SELECTOR = (
    "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must "
    "match a node's labels for the pod to be scheduled on that node. More info: "
    "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"
)
_D_RS_SPEC_REPLICAS = (
    "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit "
    "zero and unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)
_D_RS_STATUS_REPLICAS = (
    "Replicas is the most recently observed number of replicas. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)
_D_RS_READY = "The number of ready replicas for this replica set."
_D_RS_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. If the selector is "
    "empty, it is defaulted to the labels present on the pod template. Label keys and values that must "
    "match in order to be controlled by this replica set. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_D_DS_DESIRED = (
    "The total number of nodes that should be running the daemon pod (including nodes correctly "
    "running the daemon pod). More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
)
_D_DS_CURRENT = (
    "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon "
    "pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
)
_D_DS_READY = (
    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod "
    "running and ready."
)
_D_DS_UPDATED = "The total number of nodes that are running updated daemon pod"
_D_DS_AVAILABLE = (
    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod "
    "running and available (ready for at least spec.minReadySeconds)"
)
_D_DS_SELECTOR = (
    "A label query over pods that are managed by the daemon set. Must match in order to be controlled. "
    "If empty, defaulted to labels on Pod template. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_D_DEP_UPDATED = (
    "Total number of non-terminated pods targeted by this deployment that have the desired template "
    "spec."
)
_D_DEP_AVAILABLE = (
    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."
)
_D_DEP_SELECTOR = (
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones "
    "affected by this deployment."
)
_D_JOB_SUCCEEDED = (
    "The number of pods which reached phase Succeeded. The value increases monotonically for a given "
    "spec. However, it may decrease in reaction to scale down of elastic indexed jobs."
)
_D_JOB_SELECTOR = (
    "A label query over pods that should match the pod count. Normally, the system sets this field for "
    "you. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_D_LEASE_HOLDER = (
    "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader "
    "Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name "
    "field."
)

_D_CONTAINERS = "Names of each container in the template."
_D_IMAGES = "Images referenced by each container in the template."
_D_READY_PODS = "Number of the pod with ready state"


# --- column sets ---------------------------------------------------------------------------------


def _c(name: str, type_: str, description: str, *, fmt: str = "", priority: int = 0) -> Column:
    return Column(name, type_, fmt, description, priority)


_NAME_COL = _c("Name", "string", _D_NAME, fmt="name")
_AGE_COL = _c("Age", "string", _D_CREATED)
_CONTAINERS_COL = _c("Containers", "string", _D_CONTAINERS, priority=1)
_IMAGES_COL = _c("Images", "string", _D_IMAGES, priority=1)

DEFAULT_COLUMNS: tuple[Column, ...] = (_NAME_COL, _c("Created At", "date", _D_CREATED))

_COLUMNS: dict[str, tuple[Column, ...]] = {
    "pods": (
        _NAME_COL,
        _c("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        _c("Status", "string", "The aggregate status of the containers in this pod."),
        _c("Restarts", "string", "The number of times the containers in this pod have been restarted "
           "and when the last container in this pod has restarted."),
        _AGE_COL,
        _c("IP", "string", _D_POD_IP, priority=1),
        _c("Node", "string", _D_NODE_NAME, priority=1),
        _c("Nominated Node", "string", _D_NOMINATED, priority=1),
        _c("Readiness Gates", "string", _D_READINESS_GATES, priority=1),
    ),
    "deployments": (
        _NAME_COL,
        _c("Ready", "string", _D_READY_PODS),
        _c("Up-to-date", "string", _D_DEP_UPDATED),
        _c("Available", "string", _D_DEP_AVAILABLE),
        _AGE_COL, _CONTAINERS_COL, _IMAGES_COL,
        _c("Selector", "string", _D_DEP_SELECTOR, priority=1),
    ),
    "replicasets": (
        _NAME_COL,
        _c("Desired", "integer", _D_RS_SPEC_REPLICAS),
        _c("Current", "integer", _D_RS_STATUS_REPLICAS),
        _c("Ready", "integer", _D_RS_READY),
        _AGE_COL, _CONTAINERS_COL, _IMAGES_COL,
        _c("Selector", "string", _D_RS_SELECTOR, priority=1),
    ),
    "daemonsets": (
        _NAME_COL,
        _c("Desired", "integer", _D_DS_DESIRED),
        _c("Current", "integer", _D_DS_CURRENT),
        _c("Ready", "integer", _D_DS_READY),
        _c("Up-to-date", "integer", _D_DS_UPDATED),
        _c("Available", "integer", _D_DS_AVAILABLE),
        _c("Node Selector", "string", _D_NODE_SELECTOR),
        _AGE_COL, _CONTAINERS_COL, _IMAGES_COL,
        _c("Selector", "string", _D_DS_SELECTOR, priority=1),
    ),
    "statefulsets": (
        _NAME_COL,
        _c("Ready", "string", _D_READY_PODS),
        _AGE_COL, _CONTAINERS_COL, _IMAGES_COL,
    ),
    "jobs": (
        _NAME_COL,
        _c("Status", "string", "Status of the job."),
        _c("Completions", "string", _D_JOB_SUCCEEDED),
        _c("Duration", "string", "Time required to complete the job."),
        _AGE_COL, _CONTAINERS_COL, _IMAGES_COL,
        _c("Selector", "string", _D_JOB_SELECTOR, priority=1),
    ),
    "nodes": (
        _NAME_COL,
        _c("Status", "string", "The status of the node"),
        _c("Roles", "string", "The roles of the node"),
        _AGE_COL,
        _c("Version", "string", _D_KUBELET_VERSION),
        _c("Internal-IP", "string", _D_NODE_ADDRESSES, priority=1),
        _c("External-IP", "string", _D_NODE_ADDRESSES, priority=1),
        _c("OS-Image", "string", _D_OS_IMAGE, priority=1),
        _c("Kernel-Version", "string", _D_KERNEL, priority=1),
        _c("Container-Runtime", "string", _D_CRI, priority=1),
    ),
    "namespaces": (_NAME_COL, _c("Status", "string", "The status of the namespace"), _AGE_COL),
    "services": (
        _NAME_COL,
        _c("Type", "string", _D_SVC_TYPE),
        _c("Cluster-IP", "string", _D_SVC_CLUSTER_IP),
        _c("External-IP", "string", _D_SVC_EXTERNAL_IPS),
        _c("Port(s)", "string", _D_SVC_PORTS),
        _AGE_COL,
        _c("Selector", "string", _D_SVC_SELECTOR, priority=1),
    ),
    "endpoints": (_NAME_COL, _c("Endpoints", "string", _D_EP_SUBSETS), _AGE_COL),
    "endpointslices": (
        _NAME_COL,
        _c("AddressType", "string", _D_SLICE_ADDRESS_TYPE),
        _c("Ports", "string", _D_SLICE_PORTS),
        _c("Endpoints", "string", _D_SLICE_ENDPOINTS),
        _AGE_COL,
    ),
    "configmaps": (_NAME_COL, _c("Data", "string", _D_CM_DATA), _AGE_COL),
    "secrets": (
        _NAME_COL, _c("Type", "string", _D_SECRET_TYPE), _c("Data", "string", _D_SECRET_DATA), _AGE_COL,
    ),
    "serviceaccounts": (_NAME_COL, _c("Secrets", "string", _D_SA_SECRETS), _AGE_COL),
    "leases": (_NAME_COL, _c("Holder", "string", _D_LEASE_HOLDER), _AGE_COL),
    "events": (
        _c("Last Seen", "string", _D_EV_LAST),
        _c("Type", "string", _D_EV_TYPE),
        _c("Reason", "string", _D_EV_REASON),
        _c("Object", "string", _D_EV_OBJECT),
        _c("Subobject", "string", _D_EV_FIELDPATH, priority=1),
        _c("Source", "string", _D_EV_SOURCE, priority=1),
        _c("Message", "string", _D_EV_MESSAGE),
        _c("First Seen", "string", _D_EV_FIRST, priority=1),
        _c("Count", "string", _D_EV_COUNT, priority=1),
        _c("Name", "string", _D_NAME, fmt="name", priority=1),
    ),
}

# Qualified names (status.qualified) map to the same printers; events.k8s.io
# Events share core Events' storage and printer upstream.
_ALIASES = {
    "deployments.apps": "deployments", "replicasets.apps": "replicasets",
    "daemonsets.apps": "daemonsets", "statefulsets.apps": "statefulsets", "jobs.batch": "jobs",
    "leases.coordination.k8s.io": "leases",
    "endpointslices.discovery.k8s.io": "endpointslices", "events.events.k8s.io": "events",
}


def _key(resource: str) -> str:
    return _ALIASES.get(resource, resource)


def columns_for(resource: str) -> list[Column]:
    """The columns for `pods`, `deployments` (or `deployments.apps`), …; Name/Created At otherwise."""
    from hakube.apiserver import printers_policy  # builds on this module

    key = _key(resource)
    return list(_COLUMNS.get(key) or printers_policy.COLUMNS.get(key, DEFAULT_COLUMNS))


def column_definitions(cols: list[Column]) -> list[dict[str, Any]]:
    """Table.columnDefinitions as JSON."""
    return [{"name": c.name, "type": c.type, "format": c.format, "description": c.description,
             "priority": c.priority} for c in cols]


# --- small readers over v1 JSON ------------------------------------------------------------------


def _m(obj: Any, *path: str) -> Mapping[str, Any]:
    """The mapping at `path`, or {} when any step is missing or not a mapping."""
    cur = obj
    for p in path:
        cur = cur.get(p) if isinstance(cur, Mapping) else None
    return cur if isinstance(cur, Mapping) else {}


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _time(value: Any) -> datetime | None:
    """A stored timestamp, or None for unset (Go's zero time) and unreadable values."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _name(obj: Mapping[str, Any]) -> str:
    return _str(_m(obj, "metadata").get("name"))


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return human_age(_str(_m(obj, "metadata").get("creationTimestamp")) or None, now)


def _containers(obj: Mapping[str, Any]) -> tuple[str, str]:
    """layoutContainerCells over spec.template.spec.containers."""
    containers = _list(_m(obj, "spec", "template", "spec"), "containers")
    return (",".join(_str(c.get("name")) for c in containers),
            ",".join(_str(c.get("image")) for c in containers))


def _condition_true(conditions: list[Any], type_: str) -> bool:
    # The first condition of the type decides, like hasJobCondition.
    for c in conditions:
        if c.get("type") == type_:
            return bool(c.get("status") == "True")
    return False


# --- pods ----------------------------------------------------------------------------------------


def _is_restartable(container: Mapping[str, Any] | None) -> bool:
    # podutil.IsRestartableInitContainer: a sidecar, i.e. restartPolicy Always.
    return container is not None and container.get("restartPolicy") == "Always"


def _later(current: datetime | None, status: Mapping[str, Any]) -> datetime | None:
    finished = _time(_m(status, "lastState", "terminated").get("finishedAt"))
    if finished is not None and (current is None or current < finished):
        return finished
    return current


def _pod_row(pod: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _m(pod, "spec"), _m(pod, "status")
    phase = _str(status.get("phase"))
    reason = _str(status.get("reason")) or phase
    conditions = _list(status, "conditions")
    for cond in conditions:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_list = _list(spec, "initContainers")
    init_specs = {_str(c.get("name")): c for c in init_list}
    total = len(_list(spec, "containers")) + sum(1 for c in init_list if _is_restartable(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    initializing = False
    init_statuses = _list(status, "initContainerStatuses")
    for i, cs in enumerate(init_statuses):
        restarts += _int(cs.get("restartCount"))
        last_restart = _later(last_restart, cs)
        sidecar = _is_restartable(init_specs.get(_str(cs.get("name"))))
        if sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            last_sidecar_restart = _later(last_sidecar_restart, cs)
        state = _m(cs, "state")
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, Mapping) and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started") is True:
            ready += 1 if cs.get("ready") is True else 0
            continue
        if isinstance(terminated, Mapping):
            # initialization failed
            why = _str(terminated.get("reason"))
            if why:
                reason = "Init:" + why
            elif _int(terminated.get("signal")):
                reason = f"Init:Signal:{_int(terminated.get('signal'))}"
            else:
                reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
        elif isinstance(waiting, Mapping) and _str(waiting.get("reason")) not in ("", "PodInitializing"):
            reason = "Init:" + _str(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_list)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(_list(status, "containerStatuses")):
            restarts += _int(cs.get("restartCount"))
            last_restart = _later(last_restart, cs)
            state = _m(cs, "state")
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if isinstance(waiting, Mapping) and _str(waiting.get("reason")):
                reason = _str(waiting.get("reason"))
            elif isinstance(terminated, Mapping) and _str(terminated.get("reason")):
                reason = _str(terminated.get("reason"))
            elif isinstance(terminated, Mapping):
                signal = _int(terminated.get("signal"))
                reason = f"Signal:{signal}" if signal else f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") is True and isinstance(state.get("running"), Mapping):
                has_running = True
                ready += 1
        # A pod whose last container completed but another still runs is not "Completed".
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = _m(pod, "metadata").get("deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"

    # v1 → internal conversion: status.podIP is authoritative over podIPs[0].
    pod_ips = _list(status, "podIPs")
    ip = _str(status.get("podIP")) or (_str(pod_ips[0].get("ip")) if pod_ips else "")
    gates = _list(spec, "readinessGates")
    gates_cell = "<none>"
    if gates:
        by_type: dict[str, Mapping[str, Any]] = {}
        for cond in conditions:
            by_type.setdefault(_str(cond.get("type")), cond)
        passed = sum(1 for g in gates if _m(by_type, _str(g.get("conditionType"))).get("status") == "True")
        gates_cell = f"{passed}/{len(gates)}"
    return [
        _name(pod), f"{ready}/{total}", reason, restarts_cell, _age(pod, now),
        ip or "<none>", _str(spec.get("nodeName")) or "<none>",
        _str(status.get("nominatedNodeName")) or "<none>", gates_cell,
    ]


def row_conditions(resource: str, obj: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """TableRow.conditions: upstream marks finished pods Completed; None for everything else."""
    if _key(resource) != "pods":
        return None
    phase = _m(obj, "status").get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


# --- workloads -----------------------------------------------------------------------------------


def _deployment_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _m(obj, "spec"), _m(obj, "status")
    selector = spec.get("selector")
    try:
        # printDeployment uses selector.String(), not FormatLabelSelector: empty stays empty.
        selector_cell = str(label_selector_from_dict(selector if isinstance(selector, Mapping) else None))
    except ValueError:
        selector_cell = "<invalid>"
    names, images = _containers(obj)
    return [
        _name(obj), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'), 1)}",
        _int(status.get("updatedReplicas")), _int(status.get("availableReplicas")), _age(obj, now),
        names, images, selector_cell,
    ]


def _selector_cell(spec: Mapping[str, Any]) -> str:
    selector = spec.get("selector")
    return format_label_selector(selector if isinstance(selector, Mapping) else None)


def _replicaset_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _m(obj, "spec"), _m(obj, "status")
    names, images = _containers(obj)
    return [
        _name(obj), _int(spec.get("replicas"), 1), _int(status.get("replicas")),
        _int(status.get("readyReplicas")), _age(obj, now), names, images, _selector_cell(spec),
    ]


def _daemonset_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _m(obj, "spec"), _m(obj, "status")
    names, images = _containers(obj)
    node_selector = _m(spec, "template", "spec", "nodeSelector")
    return [
        _name(obj), _int(status.get("desiredNumberScheduled")), _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")), _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")), format_labels(node_selector), _age(obj, now),
        names, images, _selector_cell(spec),
    ]


def _statefulset_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _m(obj, "spec"), _m(obj, "status")
    names, images = _containers(obj)
    ready = f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'), 1)}"
    return [_name(obj), ready, _age(obj, now), names, images]


def _job_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _m(obj, "spec"), _m(obj, "status")
    succeeded = _int(status.get("succeeded"))
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = _int(spec.get("parallelism"))
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    started, completed = _time(status.get("startTime")), _time(status.get("completionTime"))
    duration = ""
    if started is not None:
        duration = human_duration((completed or now) - started)
    conditions = _list(status, "conditions")
    if _condition_true(conditions, "Complete"):
        state = "Complete"
    elif _condition_true(conditions, "Failed"):
        state = "Failed"
    elif _m(obj, "metadata").get("deletionTimestamp") is not None:
        state = "Terminating"
    elif _condition_true(conditions, "Suspended"):
        state = "Suspended"
    elif _condition_true(conditions, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _containers(obj)
    return [_name(obj), state, completions, duration, _age(obj, now), names, images, _selector_cell(spec)]


# --- cluster and config objects ------------------------------------------------------------------


def _node_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status, info = _m(obj, "spec"), _m(obj, "status"), _m(obj, "status", "nodeInfo")
    ready = None
    for cond in _list(status, "conditions"):
        if cond.get("type") == "Ready":
            ready = cond  # the last one wins, as in upstream's condition map
    states = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if spec.get("unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for key, value in _m(obj, "metadata", "labels").items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))

    def address(kind: str) -> str:
        for a in _list(status, "addresses"):
            if a.get("type") == kind:
                return _str(a.get("address"))
        return "<none>"

    return [
        _name(obj), ",".join(states), ",".join(sorted(roles)) or "<none>", _age(obj, now),
        _str(info.get("kubeletVersion")), address("InternalIP"), address("ExternalIP"),
        _str(info.get("osImage")) or "<unknown>", _str(info.get("kernelVersion")) or "<unknown>",
        _str(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


def _namespace_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _str(_m(obj, "status").get("phase")), _age(obj, now)]


def _service_external_ip(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    kind = _str(spec.get("type")) or "ClusterIP"
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        # Wide, so never clipped to 16 characters.
        ingress = _list(_m(status, "loadBalancer"), "ingress")
        lb = sorted({_str(i.get("ip")) or _str(i.get("hostname")) for i in ingress} - {""})
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if kind == "ExternalName":
        return _str(spec.get("externalName"))
    return "<unknown>"


def _service_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _m(obj, "spec")
    cluster_ips = spec.get("clusterIPs") or []
    cluster_ip = _str(spec.get("clusterIP")) or (str(cluster_ips[0]) if cluster_ips else "")
    ports = []
    for p in _list(spec, "ports"):
        proto = _str(p.get("protocol")) or "TCP"
        node_port = _int(p.get("nodePort"))
        port = _int(p.get("port"))
        ports.append(f"{port}:{node_port}/{proto}" if node_port > 0 else f"{port}/{proto}")
    return [
        _name(obj), _str(spec.get("type")) or "ClusterIP", cluster_ip or "<none>",
        _service_external_ip(spec, _m(obj, "status")), ",".join(ports) or "<none>", _age(obj, now),
        format_labels(_m(spec, "selector")),
    ]


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoints_cell(obj: Mapping[str, Any]) -> str:
    """formatEndpoints(ep, nil): at most three endpoints, then `+ N more...`."""
    subsets = _list(obj, "subsets")
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count, more = 0, False
    for ss in subsets:
        addresses = [_str(a.get("ip")) for a in _list(ss, "addresses")]
        ports = _list(ss, "ports")
        # Headless services may have addresses without ports.
        for port in ports or [None]:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == 3:
                    more = True
                    break
                shown.append(ip if port is None else _join_host_port(ip, _int(port.get("port"))))
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if more else text


def _endpoints_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _endpoints_cell(obj), _age(obj, now)]


def _more(shown: list[str], count: int, limit: int = 3) -> str:
    """listWithMoreString: the first three, `+ N more...`, or `<unset>` when empty."""
    text = ",".join(shown)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def _endpointslice_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """printEndpointSlice: formatDiscoveryPorts and formatDiscoveryEndpoints."""
    ports = _list(obj, "ports")
    port_cells = []
    for p in ports[:3]:
        cell = "*"  # a nil port means all ports
        if isinstance(p.get("port"), int) and not isinstance(p.get("port"), bool):
            cell = str(p["port"])
        elif isinstance(p.get("name"), str):
            cell = p["name"]
        port_cells.append(cell)
    addresses = [_str(a) for e in _list(obj, "endpoints") for a in (e.get("addresses") or [])]
    return [_name(obj), _str(obj.get("addressType")), _more(port_cells, len(ports)),
            _more(addresses[:3], len(addresses)), _age(obj, now)]


def _configmap_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_m(obj, "data")) + len(_m(obj, "binaryData")), _age(obj, now)]


def _secret_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    # Conversion to the internal type merges stringData into data.
    keys = set(_m(obj, "data")) | set(_m(obj, "stringData"))
    return [_name(obj), _str(obj.get("type")) or "Opaque", len(keys), _age(obj, now)]


def _serviceaccount_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_list(obj, "secrets")), _age(obj, now)]


def _lease_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _str(_m(obj, "spec").get("holderIdentity")), _age(obj, now)]


def _event_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """printEvent; events.k8s.io/v1 fields are read under their core/v1 meaning."""
    new_api = _str(obj.get("apiVersion")).startswith("events.k8s.io/") or (
        "involvedObject" not in obj and ("regarding" in obj or "note" in obj))
    if new_api:
        involved, message = _m(obj, "regarding"), _str(obj.get("note"))
        source, controller = _m(obj, "deprecatedSource"), _str(obj.get("reportingController"))
        first_ts, last_ts = obj.get("deprecatedFirstTimestamp"), obj.get("deprecatedLastTimestamp")
        count = _int(obj.get("deprecatedCount"))
    else:
        involved, message = _m(obj, "involvedObject"), _str(obj.get("message"))
        source, controller = _m(obj, "source"), _str(obj.get("reportingComponent"))
        first_ts, last_ts = obj.get("firstTimestamp"), obj.get("lastTimestamp")
        count = _int(obj.get("count"))

    def since(value: Any) -> str:
        at = _time(value)
        return "<unknown>" if at is None else human_duration(now - at)

    first = since(first_ts) if _time(first_ts) is not None else since(obj.get("eventTime"))
    last = since(last_ts) if _time(last_ts) is not None else first
    series = obj.get("series")
    if isinstance(series, Mapping):
        last, count = since(series.get("lastObservedTime")), _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events have no count in the new API
    kind, name = _str(involved.get("kind")).lower(), _str(involved.get("name"))
    component = _str(source.get("component")) or controller
    instance = _str(source.get("host")) or _str(obj.get("reportingInstance"))
    return [
        last, _str(obj.get("type")), _str(obj.get("reason")), f"{kind}/{name}" if name else kind,
        _str(involved.get("fieldPath")), f"{component}, {instance}" if instance else component,
        message.strip(), first, count, _name(obj),
    ]


_ROWS: dict[str, Callable[[Mapping[str, Any], datetime], list[Any]]] = {
    "pods": _pod_row,
    "deployments": _deployment_row,
    "replicasets": _replicaset_row,
    "daemonsets": _daemonset_row,
    "statefulsets": _statefulset_row,
    "jobs": _job_row,
    "nodes": _node_row,
    "namespaces": _namespace_row,
    "services": _service_row,
    "endpoints": _endpoints_row,
    "endpointslices": _endpointslice_row,
    "configmaps": _configmap_row,
    "secrets": _secret_row,
    "serviceaccounts": _serviceaccount_row,
    "leases": _lease_row,
    "events": _event_row,
}


def _default_row(obj: Mapping[str, Any]) -> list[Any]:
    # rest/table.go: creationTimestamp as RFC 3339; Go's zero time when unset.
    created = _time(_m(obj, "metadata").get("creationTimestamp"))
    return [_name(obj), format_time(created or datetime(1, 1, 1, tzinfo=UTC))]


def row_for(resource: str, obj: Mapping[str, Any], *, now: datetime | None = None) -> list[Any]:
    """The cells of one Table row, wide columns included, in `columns_for(resource)` order."""
    from hakube.apiserver import printers_policy  # builds on this module

    key = _key(resource)
    printer = _ROWS.get(key) or printers_policy.ROWS.get(key)
    if printer is None:
        return _default_row(obj)
    return printer(obj, now if now is not None else datetime.now(UTC))
