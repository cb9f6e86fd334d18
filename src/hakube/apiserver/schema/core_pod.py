"""core/v1 Pod: PodSpec, PodStatus, scheduling (affinity, tolerations, topology
spread) and the pod template every workload kind embeds.

Containers and volumes, the two biggest subtrees of PodSpec, are in
`core_container` and `core_volume`.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

TYPES: dict[str, ObjectType] = parse_types(
    "core",
    """
Pod
    -- Pod is a collection of containers that can run on a host.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        PodSpec
    status      PodStatus

PodSpec
    volumes                        []Volume                    merge,retainKeys:name map(name)
    initContainers                 []Container                 merge:name map(name)
    containers                     []Container                 merge:name map(name)
    ephemeralContainers            []EphemeralContainer        merge:name map(name)
    restartPolicy                  string
    terminationGracePeriodSeconds  integer
    activeDeadlineSeconds          integer
    dnsPolicy                      string
    nodeSelector                   {}string
    serviceAccountName             string
    serviceAccount                 string
    automountServiceAccountToken   boolean
    nodeName                       string
    hostNetwork                    boolean
    hostPID                        boolean
    hostIPC                        boolean
    shareProcessNamespace          boolean
    securityContext                PodSecurityContext
    imagePullSecrets               []LocalObjectReference      merge:name map(name)
    hostname                       string
    subdomain                      string
    affinity                       Affinity
    schedulerName                  string
    tolerations                    []Toleration                atomic
    hostAliases                    []HostAlias                 merge:ip map(ip)
    priorityClassName              string
    priority                       integer
    dnsConfig                      PodDNSConfig
    readinessGates                 []PodReadinessGate          atomic
    runtimeClassName               string
    enableServiceLinks             boolean
    preemptionPolicy               string
    overhead                       {}quantity
    topologySpreadConstraints      []TopologySpreadConstraint  merge:topologyKey \
                                                                map(topologyKey,whenUnsatisfiable)
    setHostnameAsFQDN              boolean
    os                             PodOS
    hostUsers                      boolean
    schedulingGates                []PodSchedulingGate         merge:name map(name)
    resourceClaims                 []PodResourceClaim          merge,retainKeys:name map(name)
    resources                      ResourceRequirements

PodSecurityContext
    seLinuxOptions            SELinuxOptions
    windowsOptions            WindowsSecurityContextOptions
    runAsUser                 integer
    runAsGroup                integer
    runAsNonRoot              boolean
    supplementalGroups        []integer  atomic
    supplementalGroupsPolicy  string
    fsGroup                   integer
    sysctls                   []Sysctl   atomic
    fsGroupChangePolicy       string
    seccompProfile            SeccompProfile
    appArmorProfile           AppArmorProfile
    seLinuxChangePolicy       string

Sysctl
    name   string
    value  string

Affinity
    nodeAffinity     NodeAffinity
    podAffinity      PodAffinity
    podAntiAffinity  PodAntiAffinity

NodeAffinity
    requiredDuringSchedulingIgnoredDuringExecution   NodeSelector
    preferredDuringSchedulingIgnoredDuringExecution  []PreferredSchedulingTerm  atomic

NodeSelector
    nodeSelectorTerms  []NodeSelectorTerm  atomic

NodeSelectorTerm
    matchExpressions  []NodeSelectorRequirement  atomic
    matchFields       []NodeSelectorRequirement  atomic

NodeSelectorRequirement
    key       string
    operator  string
    values    []string  atomic

PreferredSchedulingTerm
    weight      integer
    preference  NodeSelectorTerm

PodAffinity
    requiredDuringSchedulingIgnoredDuringExecution   []PodAffinityTerm          atomic
    preferredDuringSchedulingIgnoredDuringExecution  []WeightedPodAffinityTerm  atomic

PodAffinityTerm
    labelSelector      meta.LabelSelector
    namespaces         []string  atomic
    topologyKey        string
    namespaceSelector  meta.LabelSelector
    matchLabelKeys     []string  atomic
    mismatchLabelKeys  []string  atomic

WeightedPodAffinityTerm
    weight           integer
    podAffinityTerm  PodAffinityTerm

PodAntiAffinity
    requiredDuringSchedulingIgnoredDuringExecution   []PodAffinityTerm          atomic
    preferredDuringSchedulingIgnoredDuringExecution  []WeightedPodAffinityTerm  atomic

Toleration
    key                string
    operator           string
    value              string
    effect             string
    tolerationSeconds  integer

HostAlias
    ip         string
    hostnames  []string  atomic

PodDNSConfig
    nameservers  []string              atomic
    searches     []string              atomic
    options      []PodDNSConfigOption  atomic

PodDNSConfigOption
    name   string
    value  string

PodReadinessGate
    conditionType  string

TopologySpreadConstraint
    maxSkew             integer
    topologyKey         string
    whenUnsatisfiable   string
    labelSelector       meta.LabelSelector
    minDomains          integer
    nodeAffinityPolicy  string
    nodeTaintsPolicy    string
    matchLabelKeys      []string  atomic

PodOS
    name  string

PodSchedulingGate
    name  string

PodResourceClaim
    name                       string
    resourceClaimName          string
    resourceClaimTemplateName  string

PodStatus
    phase                       string
    conditions                  []PodCondition            merge:type map(type)
    message                     string
    reason                      string
    nominatedNodeName           string
    hostIP                      string
    hostIPs                     []HostIP                  merge:ip atomic
    podIP                       string
    podIPs                      []PodIP                   merge:ip map(ip)
    startTime                   time
    initContainerStatuses       []ContainerStatus         atomic
    containerStatuses           []ContainerStatus         atomic
    qosClass                    string
    ephemeralContainerStatuses  []ContainerStatus         atomic
    resize                      string
    resourceClaimStatuses       []PodResourceClaimStatus  merge,retainKeys:name map(name)

PodCondition
    type                string
    status              string
    lastProbeTime       time
    lastTransitionTime  time
    reason              string
    message             string

HostIP
    ip  string

PodIP
    ip  string

ContainerStatus
    name                      string
    state                     ContainerState
    lastState                 ContainerState
    ready                     boolean
    restartCount              integer
    image                     string
    imageID                   string
    containerID               string
    started                   boolean
    allocatedResources        {}quantity
    resources                 ResourceRequirements
    volumeMounts              []VolumeMountStatus  merge:mountPath map(mountPath)
    user                      ContainerUser
    allocatedResourcesStatus  []ResourceStatus     merge:name map(name)

ContainerState
    waiting     ContainerStateWaiting
    running     ContainerStateRunning
    terminated  ContainerStateTerminated

ContainerStateWaiting
    reason   string
    message  string

ContainerStateRunning
    startedAt  time

ContainerStateTerminated
    exitCode     integer
    signal       integer
    reason       string
    message      string
    startedAt    time
    finishedAt   time
    containerID  string

VolumeMountStatus
    name               string
    mountPath          string
    readOnly           boolean
    recursiveReadOnly  string

ContainerUser
    linux  LinuxContainerUser

LinuxContainerUser
    uid                 integer
    gid                 integer
    supplementalGroups  []integer  atomic

ResourceStatus
    name       string
    resources  []ResourceHealth  map(resourceID)

ResourceHealth
    resourceID  string
    health      string

PodResourceClaimStatus
    name               string
    resourceClaimName  string

PodTemplate
    -- PodTemplate describes a template for creating copies of a predefined pod.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    template    PodTemplateSpec

PodTemplateSpec
    metadata  meta.ObjectMeta
    spec      PodSpec
""",
)
