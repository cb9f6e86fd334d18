"""apps/v1 workload kinds: Deployment, ReplicaSet, DaemonSet and StatefulSet.

Note the strategic-merge tags: Deployment `spec.strategy` is `retainKeys`
upstream, DaemonSet and StatefulSet `updateStrategy` carry no tag.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

TYPES: dict[str, ObjectType] = parse_types(
    "apps",
    """
Deployment
    -- Deployment enables declarative updates for Pods and ReplicaSets.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        DeploymentSpec
    status      DeploymentStatus

DeploymentSpec
    replicas                 integer
    selector                 meta.LabelSelector
    template                 core.PodTemplateSpec
    strategy                 DeploymentStrategy  retainKeys
    minReadySeconds          integer
    revisionHistoryLimit     integer
    paused                   boolean
    progressDeadlineSeconds  integer

DeploymentStrategy
    type           string
    rollingUpdate  RollingUpdateDeployment

RollingUpdateDeployment
    maxUnavailable  int-or-string
    maxSurge        int-or-string

DeploymentStatus
    observedGeneration   integer
    replicas             integer
    updatedReplicas      integer
    readyReplicas        integer
    availableReplicas    integer
    unavailableReplicas  integer
    conditions           []DeploymentCondition  merge:type map(type)
    collisionCount       integer

DeploymentCondition
    type                string
    status              string
    lastUpdateTime      time
    lastTransitionTime  time
    reason              string
    message             string

ReplicaSet
    -- ReplicaSet ensures that a specified number of pod replicas are running at any given time.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        ReplicaSetSpec
    status      ReplicaSetStatus

ReplicaSetSpec
    replicas         integer
    minReadySeconds  integer
    selector         meta.LabelSelector
    template         core.PodTemplateSpec

ReplicaSetStatus
    replicas              integer
    fullyLabeledReplicas  integer
    readyReplicas         integer
    availableReplicas     integer
    observedGeneration    integer
    conditions            []ReplicaSetCondition  merge:type map(type)

ReplicaSetCondition
    type                string
    status              string
    lastTransitionTime  time
    reason              string
    message             string

DaemonSet
    -- DaemonSet represents the configuration of a daemon set.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        DaemonSetSpec
    status      DaemonSetStatus

DaemonSetSpec
    selector              meta.LabelSelector
    template              core.PodTemplateSpec
    updateStrategy        DaemonSetUpdateStrategy
    minReadySeconds       integer
    revisionHistoryLimit  integer

DaemonSetUpdateStrategy
    type           string
    rollingUpdate  RollingUpdateDaemonSet

RollingUpdateDaemonSet
    maxUnavailable  int-or-string
    maxSurge        int-or-string

DaemonSetStatus
    currentNumberScheduled  integer
    numberMisscheduled      integer
    desiredNumberScheduled  integer
    numberReady             integer
    observedGeneration      integer
    updatedNumberScheduled  integer
    numberAvailable         integer
    numberUnavailable       integer
    collisionCount          integer
    conditions              []DaemonSetCondition  merge:type map(type)

DaemonSetCondition
    type                string
    status              string
    lastTransitionTime  time
    reason              string
    message             string

StatefulSet
    -- StatefulSet represents a set of pods with consistent identities.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        StatefulSetSpec
    status      StatefulSetStatus

StatefulSetSpec
    replicas                              integer
    selector                              meta.LabelSelector
    template                              core.PodTemplateSpec
    volumeClaimTemplates                  []core.PersistentVolumeClaim  atomic
    serviceName                           string
    podManagementPolicy                   string
    updateStrategy                        StatefulSetUpdateStrategy
    revisionHistoryLimit                  integer
    minReadySeconds                       integer
    persistentVolumeClaimRetentionPolicy  StatefulSetPersistentVolumeClaimRetentionPolicy
    ordinals                              StatefulSetOrdinals

StatefulSetUpdateStrategy
    type           string
    rollingUpdate  RollingUpdateStatefulSetStrategy

RollingUpdateStatefulSetStrategy
    partition       integer
    maxUnavailable  int-or-string

StatefulSetPersistentVolumeClaimRetentionPolicy
    whenDeleted  string
    whenScaled   string

StatefulSetOrdinals
    start  integer

StatefulSetStatus
    observedGeneration  integer
    replicas            integer
    readyReplicas       integer
    currentReplicas     integer
    updatedReplicas     integer
    currentRevision     string
    updateRevision      string
    collisionCount      integer
    conditions          []StatefulSetCondition  merge:type map(type)
    availableReplicas   integer

StatefulSetCondition
    type                string
    status              string
    lastTransitionTime  time
    reason              string
    message             string
""",
)
