"""apps/v1 (Deployment, ReplicaSet, StatefulSet, DaemonSet) and batch/v1 (Job, CronJob).
"""

from __future__ import annotations

from hakube.apiserver.protobuf.table import Message, parse_messages

_APPS = """
DaemonSet
    1   metadata  meta.ObjectMeta
    2   spec      DaemonSetSpec
    3   status    DaemonSetStatus

DaemonSetCondition
    1   type                string?
    2   status              string?
    3   lastTransitionTime  time
    4   reason              string
    5   message             string

DaemonSetSpec
    1   selector              meta.LabelSelector
    2   template              core.PodTemplateSpec
    3   updateStrategy        DaemonSetUpdateStrategy
    4   minReadySeconds       int32
    6   revisionHistoryLimit  int32?

DaemonSetStatus
    1   currentNumberScheduled  int32?
    2   numberMisscheduled      int32?
    3   desiredNumberScheduled  int32?
    4   numberReady             int32?
    5   observedGeneration      int64
    6   updatedNumberScheduled  int32
    7   numberAvailable         int32
    8   numberUnavailable       int32
    9   collisionCount          int32?
    10  conditions              []DaemonSetCondition

DaemonSetUpdateStrategy
    1   type           string
    2   rollingUpdate  RollingUpdateDaemonSet

Deployment
    1   metadata  meta.ObjectMeta
    2   spec      DeploymentSpec
    3   status    DeploymentStatus

DeploymentCondition
    1   type                string?
    2   status              string?
    4   reason              string
    5   message             string
    6   lastUpdateTime      time
    7   lastTransitionTime  time

DeploymentSpec
    1   replicas                 int32?
    2   selector                 meta.LabelSelector
    3   template                 core.PodTemplateSpec
    4   strategy                 DeploymentStrategy
    5   minReadySeconds          int32
    6   revisionHistoryLimit     int32?
    7   paused                   bool
    9   progressDeadlineSeconds  int32?

DeploymentStatus
    1   observedGeneration   int64
    2   replicas             int32
    3   updatedReplicas      int32
    4   availableReplicas    int32
    5   unavailableReplicas  int32
    6   conditions           []DeploymentCondition
    7   readyReplicas        int32
    8   collisionCount       int32?

DeploymentStrategy
    1   type           string
    2   rollingUpdate  RollingUpdateDeployment

ReplicaSet
    1   metadata  meta.ObjectMeta
    2   spec      ReplicaSetSpec
    3   status    ReplicaSetStatus

ReplicaSetCondition
    1   type                string?
    2   status              string?
    3   lastTransitionTime  time
    4   reason              string
    5   message             string

ReplicaSetSpec
    1   replicas         int32?
    2   selector         meta.LabelSelector
    3   template         core.PodTemplateSpec
    4   minReadySeconds  int32

ReplicaSetStatus
    1   replicas              int32?
    2   fullyLabeledReplicas  int32
    3   observedGeneration    int64
    4   readyReplicas         int32
    5   availableReplicas     int32
    6   conditions            []ReplicaSetCondition

RollingUpdateDaemonSet
    1   maxUnavailable  intstr?
    2   maxSurge        intstr?

RollingUpdateDeployment
    1   maxUnavailable  intstr?
    2   maxSurge        intstr?

RollingUpdateStatefulSetStrategy
    1   partition       int32?
    2   maxUnavailable  intstr?

StatefulSet
    1   metadata  meta.ObjectMeta
    2   spec      StatefulSetSpec
    3   status    StatefulSetStatus

StatefulSetCondition
    1   type                string?
    2   status              string?
    3   lastTransitionTime  time
    4   reason              string
    5   message             string

StatefulSetOrdinals
    1   start  int32?

StatefulSetPersistentVolumeClaimRetentionPolicy
    1   whenDeleted  string
    2   whenScaled   string

StatefulSetSpec
    1   replicas                              int32?
    2   selector                              meta.LabelSelector
    3   template                              core.PodTemplateSpec
    4   volumeClaimTemplates                  []core.PersistentVolumeClaim
    5   serviceName                           string?
    6   podManagementPolicy                   string
    7   updateStrategy                        StatefulSetUpdateStrategy
    8   revisionHistoryLimit                  int32?
    9   minReadySeconds                       int32
    10  persistentVolumeClaimRetentionPolicy  StatefulSetPersistentVolumeClaimRetentionPolicy
    11  ordinals                              StatefulSetOrdinals

StatefulSetStatus
    1   observedGeneration  int64
    2   replicas            int32?
    3   readyReplicas       int32
    4   currentReplicas     int32
    5   updatedReplicas     int32
    6   currentRevision     string
    7   updateRevision      string
    9   collisionCount      int32?
    10  conditions          []StatefulSetCondition
    11  availableReplicas   int32?

StatefulSetUpdateStrategy
    1   type           string
    2   rollingUpdate  RollingUpdateStatefulSetStrategy
"""

_BATCH = """
CronJob
    1   metadata  meta.ObjectMeta
    2   spec      CronJobSpec
    3   status    CronJobStatus

CronJobSpec
    1   schedule                    string?
    2   startingDeadlineSeconds     int64?
    3   concurrencyPolicy           string
    4   suspend                     bool?
    5   jobTemplate                 JobTemplateSpec
    6   successfulJobsHistoryLimit  int32?
    7   failedJobsHistoryLimit      int32?
    8   timeZone                    string?

CronJobStatus
    1   active              []core.ObjectReference
    4   lastScheduleTime    time?
    5   lastSuccessfulTime  time?

Job
    1   metadata  meta.ObjectMeta
    2   spec      JobSpec
    3   status    JobStatus

JobCondition
    1   type                string?
    2   status              string?
    3   lastProbeTime       time
    4   lastTransitionTime  time
    5   reason              string
    6   message             string

JobSpec
    1   parallelism              int32?
    2   completions              int32?
    3   activeDeadlineSeconds    int64?
    4   selector                 meta.LabelSelector
    5   manualSelector           bool?
    6   template                 core.PodTemplateSpec
    7   backoffLimit             int32?
    8   ttlSecondsAfterFinished  int32?
    9   completionMode           string?
    10  suspend                  bool?
    11  podFailurePolicy         PodFailurePolicy
    12  backoffLimitPerIndex     int32?
    13  maxFailedIndexes         int32?
    14  podReplacementPolicy     string?
    15  managedBy                string?
    16  successPolicy            SuccessPolicy

JobStatus
    1   conditions               []JobCondition
    2   startTime                time?
    3   completionTime           time?
    4   active                   int32
    5   succeeded                int32
    6   failed                   int32
    7   completedIndexes         string
    8   uncountedTerminatedPods  UncountedTerminatedPods
    9   ready                    int32?
    10  failedIndexes            string?
    11  terminating              int32?

JobTemplateSpec
    1   metadata  meta.ObjectMeta
    2   spec      JobSpec

PodFailurePolicy
    1   rules  []PodFailurePolicyRule

PodFailurePolicyOnExitCodesRequirement
    1   containerName  string?
    2   operator       string?
    3   values         []int32

PodFailurePolicyOnPodConditionsPattern
    1   type    string?
    2   status  string?

PodFailurePolicyRule
    1   action           string?
    2   onExitCodes      PodFailurePolicyOnExitCodesRequirement
    3   onPodConditions  []PodFailurePolicyOnPodConditionsPattern

SuccessPolicy
    1   rules  []SuccessPolicyRule

SuccessPolicyRule
    1   succeededIndexes  string?
    2   succeededCount    int32?

UncountedTerminatedPods
    1   succeeded  []string
    2   failed     []string
"""

MESSAGES: dict[str, Message] = {
    **parse_messages("apps", _APPS),
    **parse_messages("batch", _BATCH),
}
