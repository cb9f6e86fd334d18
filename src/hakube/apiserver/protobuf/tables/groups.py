"""The small groups: policy/v1, scheduling.k8s.io/v1, networking.k8s.io/v1,
autoscaling/v1 and v2, coordination.k8s.io/v1, events.k8s.io/v1 and
discovery.k8s.io/v1.
"""

from __future__ import annotations

from hakube.apiserver.protobuf.table import Message, parse_messages

_POLICY = """
Eviction
    1   metadata       meta.ObjectMeta
    2   deleteOptions  meta.DeleteOptions

PodDisruptionBudget
    1   metadata  meta.ObjectMeta
    2   spec      PodDisruptionBudgetSpec
    3   status    PodDisruptionBudgetStatus

PodDisruptionBudgetSpec
    1   minAvailable                intstr?
    2   selector                    meta.LabelSelector
    3   maxUnavailable              intstr?
    4   unhealthyPodEvictionPolicy  string?

PodDisruptionBudgetStatus
    1   observedGeneration  int64
    2   disruptedPods       {}time
    3   disruptionsAllowed  int32?
    4   currentHealthy      int32?
    5   desiredHealthy      int32?
    6   expectedPods        int32?
    7   conditions          []meta.Condition
"""

_SCHEDULING = """
PriorityClass
    1   metadata          meta.ObjectMeta
    2   value             int32?
    3   globalDefault     bool
    4   description       string
    5   preemptionPolicy  string?
"""

_NETWORKING = """
HTTPIngressPath
    1   path      string
    2   backend   IngressBackend
    3   pathType  string?

HTTPIngressRuleValue
    1   paths  []HTTPIngressPath

Ingress
    1   metadata  meta.ObjectMeta
    2   spec      IngressSpec
    3   status    IngressStatus

IngressBackend
    3   resource  core.TypedLocalObjectReference
    4   service   IngressServiceBackend

IngressClass
    1   metadata  meta.ObjectMeta
    2   spec      IngressClassSpec

IngressClassParametersReference
    1   apiGroup   string?
    2   kind       string?
    3   name       string?
    4   scope      string?
    5   namespace  string?

IngressClassSpec
    1   controller  string
    2   parameters  IngressClassParametersReference

IngressLoadBalancerIngress
    1   ip        string
    2   hostname  string
    4   ports     []IngressPortStatus

IngressLoadBalancerStatus
    1   ingress  []IngressLoadBalancerIngress

IngressPortStatus
    1   port      int32?
    2   protocol  string?
    3   error     string?

IngressRule
    1   host              string
    2   ingressRuleValue  IngressRuleValue  inline

IngressRuleValue
    1   http  HTTPIngressRuleValue

IngressServiceBackend
    1   name  string?
    2   port  ServiceBackendPort

IngressSpec
    1   defaultBackend    IngressBackend
    2   tls               []IngressTLS
    3   rules             []IngressRule
    4   ingressClassName  string?

IngressStatus
    1   loadBalancer  IngressLoadBalancerStatus

IngressTLS
    1   hosts       []string
    2   secretName  string

ServiceBackendPort
    1   name    string
    2   number  int32
"""

_AUTOSCALING = """
CrossVersionObjectReference
    1   kind        string?
    2   name        string?
    3   apiVersion  string

HorizontalPodAutoscaler
    1   metadata  meta.ObjectMeta
    2   spec      HorizontalPodAutoscalerSpec
    3   status    HorizontalPodAutoscalerStatus

HorizontalPodAutoscalerSpec
    1   scaleTargetRef                  CrossVersionObjectReference
    2   minReplicas                     int32?
    3   maxReplicas                     int32?
    4   targetCPUUtilizationPercentage  int32?

HorizontalPodAutoscalerStatus
    1   observedGeneration               int64?
    2   lastScaleTime                    time?
    3   currentReplicas                  int32?
    4   desiredReplicas                  int32?
    5   currentCPUUtilizationPercentage  int32?

Scale
    1   metadata  meta.ObjectMeta
    2   spec      ScaleSpec
    3   status    ScaleStatus

ScaleSpec
    1   replicas  int32

ScaleStatus
    1   replicas  int32?
    2   selector  string
"""

_AUTOSCALINGV2 = """
ContainerResourceMetricSource
    1   name       string?
    2   target     MetricTarget
    3   container  string?

ContainerResourceMetricStatus
    1   name       string?
    2   current    MetricValueStatus
    3   container  string?

CrossVersionObjectReference
    1   kind        string?
    2   name        string?
    3   apiVersion  string

ExternalMetricSource
    1   metric  MetricIdentifier
    2   target  MetricTarget

ExternalMetricStatus
    1   metric   MetricIdentifier
    2   current  MetricValueStatus

HPAScalingPolicy
    1   type           string?
    2   value          int32?
    3   periodSeconds  int32?

HPAScalingRules
    1   selectPolicy                string?
    2   policies                    []HPAScalingPolicy
    3   stabilizationWindowSeconds  int32?

HorizontalPodAutoscaler
    1   metadata  meta.ObjectMeta
    2   spec      HorizontalPodAutoscalerSpec
    3   status    HorizontalPodAutoscalerStatus

HorizontalPodAutoscalerBehavior
    1   scaleUp    HPAScalingRules
    2   scaleDown  HPAScalingRules

HorizontalPodAutoscalerCondition
    1   type                string?
    2   status              string?
    3   lastTransitionTime  time
    4   reason              string
    5   message             string

HorizontalPodAutoscalerSpec
    1   scaleTargetRef  CrossVersionObjectReference
    2   minReplicas     int32?
    3   maxReplicas     int32?
    4   metrics         []MetricSpec
    5   behavior        HorizontalPodAutoscalerBehavior

HorizontalPodAutoscalerStatus
    1   observedGeneration  int64?
    2   lastScaleTime       time?
    3   currentReplicas     int32
    4   desiredReplicas     int32?
    5   currentMetrics      []MetricStatus
    6   conditions          []HorizontalPodAutoscalerCondition

MetricIdentifier
    1   name      string?
    2   selector  meta.LabelSelector

MetricSpec
    1   type               string?
    2   object             ObjectMetricSource
    3   pods               PodsMetricSource
    4   resource           ResourceMetricSource
    5   external           ExternalMetricSource
    7   containerResource  ContainerResourceMetricSource

MetricStatus
    1   type               string?
    2   object             ObjectMetricStatus
    3   pods               PodsMetricStatus
    4   resource           ResourceMetricStatus
    5   external           ExternalMetricStatus
    7   containerResource  ContainerResourceMetricStatus

MetricTarget
    1   type                string?
    2   value               quantity?
    3   averageValue        quantity?
    4   averageUtilization  int32?

MetricValueStatus
    1   value               quantity?
    2   averageValue        quantity?
    3   averageUtilization  int32?

ObjectMetricSource
    1   describedObject  CrossVersionObjectReference
    2   target           MetricTarget
    3   metric           MetricIdentifier

ObjectMetricStatus
    1   metric           MetricIdentifier
    2   current          MetricValueStatus
    3   describedObject  CrossVersionObjectReference

PodsMetricSource
    1   metric  MetricIdentifier
    2   target  MetricTarget

PodsMetricStatus
    1   metric   MetricIdentifier
    2   current  MetricValueStatus

ResourceMetricSource
    1   name    string?
    2   target  MetricTarget

ResourceMetricStatus
    1   name     string?
    2   current  MetricValueStatus
"""

_COORDINATION = """
Lease
    1   metadata  meta.ObjectMeta
    2   spec      LeaseSpec

LeaseSpec
    1   holderIdentity        string?
    2   leaseDurationSeconds  int32?
    3   acquireTime           microtime?
    4   renewTime             microtime?
    5   leaseTransitions      int32?
    6   strategy              string?
    7   preferredHolder       string?
"""

_EVENTS = """
Event
    1   metadata                  meta.ObjectMeta
    2   eventTime                 microtime?
    3   series                    EventSeries
    4   reportingController       string
    5   reportingInstance         string
    6   action                    string
    7   reason                    string
    8   regarding                 core.ObjectReference
    9   related                   core.ObjectReference
    10  note                      string
    11  type                      string
    12  deprecatedSource          core.EventSource
    13  deprecatedFirstTimestamp  time
    14  deprecatedLastTimestamp   time
    15  deprecatedCount           int32

EventSeries
    1   count             int32?
    2   lastObservedTime  microtime?
"""

_DISCOVERY = """
Endpoint
    1   addresses           []string
    2   conditions          EndpointConditions
    3   hostname            string?
    4   targetRef           core.ObjectReference
    5   deprecatedTopology  {}string
    6   nodeName            string?
    7   zone                string?
    8   hints               EndpointHints

EndpointConditions
    1   ready        bool?
    2   serving      bool?
    3   terminating  bool?

EndpointHints
    1   forZones  []ForZone

EndpointPort
    1   name         string?
    2   protocol     string?
    3   port         int32?
    4   appProtocol  string?

EndpointSlice
    1   metadata     meta.ObjectMeta
    2   endpoints    []Endpoint
    3   ports        []EndpointPort
    4   addressType  string?

ForZone
    1   name  string?
"""

MESSAGES: dict[str, Message] = {
    **parse_messages("policy", _POLICY),
    **parse_messages("scheduling", _SCHEDULING),
    **parse_messages("networking", _NETWORKING),
    **parse_messages("autoscaling", _AUTOSCALING),
    **parse_messages("autoscalingv2", _AUTOSCALINGV2),
    **parse_messages("coordination", _COORDINATION),
    **parse_messages("events", _EVENTS),
    **parse_messages("discovery", _DISCOVERY),
}
