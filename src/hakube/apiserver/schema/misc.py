"""The small groups: autoscaling/v1 Scale, coordination.k8s.io/v1 Lease,
discovery.k8s.io/v1 EndpointSlice, events.k8s.io/v1 Event, batch/v1 Job and
CronJob, policy/v1 Eviction and PodDisruptionBudget.

Each is only a handful of types, so one module holds them, one table per group.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

_AUTOSCALING = """
Scale
    -- Scale represents a scaling request for a resource.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        ScaleSpec
    status      ScaleStatus

ScaleSpec
    replicas  integer

ScaleStatus
    replicas  integer
    selector  string
"""

_COORDINATION = """
Lease
    -- Lease defines a lease concept.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        LeaseSpec

LeaseSpec
    holderIdentity        string
    leaseDurationSeconds  integer
    acquireTime           microtime
    renewTime             microtime
    leaseTransitions      integer
    strategy              string
    preferredHolder       string
"""

_DISCOVERY = """
EndpointSlice
    -- EndpointSlice represents a subset of the endpoints that implement a service. For a given service
    -- there may be multiple EndpointSlice objects, selected by labels, which must be joined to produce
    -- the full set of endpoints.
    apiVersion   string
    kind         string
    metadata     meta.ObjectMeta
    addressType  string
    endpoints    []Endpoint      atomic
    ports        []EndpointPort  atomic

Endpoint
    addresses           []string  set
    conditions          EndpointConditions
    hostname            string
    targetRef           core.ObjectReference
    deprecatedTopology  {}string
    nodeName            string
    zone                string
    hints               EndpointHints

EndpointConditions
    ready        boolean
    serving      boolean
    terminating  boolean

EndpointHints
    forZones  []ForZone  atomic

ForZone
    name  string

EndpointPort
    name         string
    protocol     string
    port         integer
    appProtocol  string
"""

_EVENTS = """
Event
    -- Event is a report of an event somewhere in the cluster.
    apiVersion                string
    kind                      string
    metadata                  meta.ObjectMeta
    eventTime                 microtime
    series                    EventSeries
    reportingController       string
    reportingInstance         string
    action                    string
    reason                    string
    regarding                 core.ObjectReference
    related                   core.ObjectReference
    note                      string
    type                      string
    deprecatedSource          core.EventSource
    deprecatedFirstTimestamp  time
    deprecatedLastTimestamp   time
    deprecatedCount           integer

EventSeries
    count             integer
    lastObservedTime  microtime
"""

_BATCH = """
Job
    -- Job represents the configuration of a single job.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        JobSpec
    status      JobStatus

JobSpec
    parallelism              integer
    completions              integer
    activeDeadlineSeconds    integer
    podFailurePolicy         PodFailurePolicy
    successPolicy            SuccessPolicy
    backoffLimit             integer
    backoffLimitPerIndex     integer
    maxFailedIndexes         integer
    selector                 meta.LabelSelector
    manualSelector           boolean
    template                 core.PodTemplateSpec
    ttlSecondsAfterFinished  integer
    completionMode           string
    suspend                  boolean
    podReplacementPolicy     string
    managedBy                string

PodFailurePolicy
    rules  []PodFailurePolicyRule  atomic

PodFailurePolicyRule
    action           string
    onExitCodes      PodFailurePolicyOnExitCodesRequirement
    onPodConditions  []PodFailurePolicyOnPodConditionsPattern  atomic

PodFailurePolicyOnExitCodesRequirement
    containerName  string
    operator       string
    values         []integer  set

PodFailurePolicyOnPodConditionsPattern
    type    string
    status  string

SuccessPolicy
    rules  []SuccessPolicyRule  atomic

SuccessPolicyRule
    succeededIndexes  string
    succeededCount    integer

JobStatus
    conditions               []JobCondition  merge:type atomic
    startTime                time
    completionTime           time
    active                   integer
    succeeded                integer
    failed                   integer
    terminating              integer
    completedIndexes         string
    failedIndexes            string
    uncountedTerminatedPods  UncountedTerminatedPods
    ready                    integer

JobCondition
    type                string
    status              string
    lastProbeTime       time
    lastTransitionTime  time
    reason              string
    message             string

UncountedTerminatedPods
    succeeded  []string  set
    failed     []string  set

CronJob
    -- CronJob represents the configuration of a single cron job.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        CronJobSpec
    status      CronJobStatus

CronJobSpec
    schedule                    string
    timeZone                    string
    startingDeadlineSeconds     integer
    concurrencyPolicy           string
    suspend                     boolean
    jobTemplate                 JobTemplateSpec
    successfulJobsHistoryLimit  integer
    failedJobsHistoryLimit      integer

JobTemplateSpec
    metadata  meta.ObjectMeta
    spec      JobSpec

CronJobStatus
    active              []core.ObjectReference  atomic
    lastScheduleTime    time
    lastSuccessfulTime  time
"""

_POLICY = """
Eviction
    -- Eviction evicts a pod from its node subject to certain policies and safety constraints.
    apiVersion     string
    kind           string
    metadata       meta.ObjectMeta
    deleteOptions  meta.DeleteOptions

PodDisruptionBudget
    -- PodDisruptionBudget is an object to define the max disruption that can be caused to a collection
    -- of pods
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        PodDisruptionBudgetSpec
    status      PodDisruptionBudgetStatus

PodDisruptionBudgetSpec
    minAvailable                int-or-string
    selector                    meta.LabelSelector  replace
    maxUnavailable              int-or-string
    unhealthyPodEvictionPolicy  string

PodDisruptionBudgetStatus
    observedGeneration  integer
    disruptedPods       {}time
    disruptionsAllowed  integer
    currentHealthy      integer
    desiredHealthy      integer
    expectedPods        integer
    conditions          []meta.Condition  merge:type map(type)
"""

TYPES: dict[str, ObjectType] = {
    **parse_types("autoscaling", _AUTOSCALING),
    **parse_types("coordination", _COORDINATION),
    **parse_types("discovery", _DISCOVERY),
    **parse_types("events", _EVENTS),
    **parse_types("batch", _BATCH),
    **parse_types("policy", _POLICY),
}
