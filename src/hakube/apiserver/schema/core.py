"""core/v1 kinds other than Pod: Namespace, Node, Service, Endpoints, ConfigMap,
Secret, ServiceAccount, Event, Binding, and the object references they share.

Pod and its parts are large enough to live in `core_pod`, `core_container` and
`core_volume`.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

TYPES: dict[str, ObjectType] = parse_types(
    "core",
    """
Namespace
    -- Namespace provides a scope for Names.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        NamespaceSpec
    status      NamespaceStatus

NamespaceSpec
    finalizers  []string  atomic

NamespaceStatus
    phase       string
    conditions  []NamespaceCondition  merge:type map(type)

NamespaceCondition
    type                string
    status              string
    lastTransitionTime  time
    reason              string
    message             string

LocalObjectReference
    name  string

Node
    -- Node is a worker node in Kubernetes.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        NodeSpec
    status      NodeStatus

NodeSpec
    podCIDR        string
    podCIDRs       []string  merge set
    providerID     string
    unschedulable  boolean
    taints         []Taint   atomic
    configSource   NodeConfigSource
    externalID     string

Taint
    key        string
    value      string
    effect     string
    timeAdded  time

NodeConfigSource
    configMap  ConfigMapNodeConfigSource

ConfigMapNodeConfigSource
    namespace         string
    name              string
    uid               string
    resourceVersion   string
    kubeletConfigKey  string

NodeStatus
    capacity         {}quantity
    allocatable      {}quantity
    phase            string
    conditions       []NodeCondition       merge:type map(type)
    addresses        []NodeAddress         merge:type map(type)
    daemonEndpoints  NodeDaemonEndpoints
    nodeInfo         NodeSystemInfo
    images           []ContainerImage      atomic
    volumesInUse     []string              atomic
    volumesAttached  []AttachedVolume      atomic
    config           NodeConfigStatus
    runtimeHandlers  []NodeRuntimeHandler  atomic
    features         NodeFeatures

NodeCondition
    type                string
    status              string
    lastHeartbeatTime   time
    lastTransitionTime  time
    reason              string
    message             string

NodeAddress
    type     string
    address  string

NodeDaemonEndpoints
    kubeletEndpoint  DaemonEndpoint

DaemonEndpoint
    Port  integer

NodeSystemInfo
    machineID                string
    systemUUID               string
    bootID                   string
    kernelVersion            string
    osImage                  string
    containerRuntimeVersion  string
    kubeletVersion           string
    kubeProxyVersion         string
    operatingSystem          string
    architecture             string

ContainerImage
    names      []string  atomic
    sizeBytes  integer

NodeConfigStatus
    assigned       NodeConfigSource
    active         NodeConfigSource
    lastKnownGood  NodeConfigSource
    error          string

NodeRuntimeHandler
    name      string
    features  NodeRuntimeHandlerFeatures

NodeRuntimeHandlerFeatures
    recursiveReadOnlyMounts  boolean
    userNamespaces           boolean

NodeFeatures
    supplementalGroupsPolicy  boolean

Service
    -- Service is a named abstraction of software service (for example, mysql) consisting of local port
    -- (for example 3306) that the proxy listens on, and the selector that determines which pods will
    -- answer requests sent through the proxy.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        ServiceSpec
    status      ServiceStatus

ServiceSpec
    ports                          []ServicePort  merge:port map(port,protocol)
    selector                       {}string
    clusterIP                      string
    clusterIPs                     []string       atomic
    type                           string
    externalIPs                    []string       atomic
    sessionAffinity                string
    loadBalancerIP                 string
    loadBalancerSourceRanges       []string       atomic
    externalName                   string
    externalTrafficPolicy          string
    healthCheckNodePort            integer
    publishNotReadyAddresses       boolean
    sessionAffinityConfig          SessionAffinityConfig
    ipFamilies                     []string       atomic
    ipFamilyPolicy                 string
    allocateLoadBalancerNodePorts  boolean
    loadBalancerClass              string
    internalTrafficPolicy          string
    trafficDistribution            string

ServicePort
    name         string
    protocol     string
    appProtocol  string
    port         integer
    targetPort   int-or-string
    nodePort     integer

SessionAffinityConfig
    clientIP  ClientIPConfig

ClientIPConfig
    timeoutSeconds  integer

ServiceStatus
    loadBalancer  LoadBalancerStatus
    conditions    []meta.Condition  merge:type map(type)

LoadBalancerStatus
    ingress  []LoadBalancerIngress  atomic

LoadBalancerIngress
    ip        string
    hostname  string
    ipMode    string
    ports     []PortStatus  atomic

PortStatus
    port      integer
    protocol  string
    error     string

Endpoints
    -- Endpoints is a collection of endpoints that implement the actual service.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    subsets     []EndpointSubset  atomic

EndpointSubset
    addresses          []EndpointAddress  atomic
    notReadyAddresses  []EndpointAddress  atomic
    ports              []EndpointPort     atomic

EndpointAddress
    ip         string
    hostname   string
    nodeName   string
    targetRef  ObjectReference

ObjectReference
    apiVersion       string
    kind             string
    namespace        string
    name             string
    uid              string
    resourceVersion  string
    fieldPath        string

EndpointPort
    name         string
    port         integer
    protocol     string
    appProtocol  string

ConfigMap
    -- ConfigMap holds configuration data for pods to consume.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    immutable   boolean
    data        {}string
    binaryData  {}bytes

Secret
    -- Secret holds secret data of a certain type.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    immutable   boolean
    data        {}bytes
    stringData  {}string
    type        string

ServiceAccount
    -- ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems,
    -- for an identity * a principal that can be authenticated and authorized * a set of secrets
    apiVersion                    string
    kind                          string
    metadata                      meta.ObjectMeta
    secrets                       []ObjectReference       merge:name map(name)
    imagePullSecrets              []LocalObjectReference  atomic
    automountServiceAccountToken  boolean

Event
    -- Event is a report of an event somewhere in the cluster.
    apiVersion          string
    kind                string
    metadata            meta.ObjectMeta
    involvedObject      ObjectReference
    reason              string
    message             string
    source              EventSource
    firstTimestamp      time
    lastTimestamp       time
    count               integer
    type                string
    eventTime           microtime
    series              EventSeries
    action              string
    related             ObjectReference
    reportingComponent  string
    reportingInstance   string

EventSource
    component  string
    host       string

EventSeries
    count             integer
    lastObservedTime  microtime

Binding
    -- Binding ties one object to another; for example, a pod is bound to a node by a scheduler.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    target      ObjectReference
""",
)
