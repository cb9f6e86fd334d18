"""Cluster policy kinds: core/v1 ResourceQuota and LimitRange, scheduling.k8s.io/v1
PriorityClass, networking.k8s.io/v1 Ingress and IngressClass, and the
HorizontalPodAutoscaler of autoscaling/v1 and autoscaling/v2.

Field names, patch strategies and list types follow k8s.io/api release-1.32
(`core/v1`, `scheduling/v1`, `networking/v1`, `autoscaling/v1`, `autoscaling/v2`).
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

_CORE = """
ResourceQuota
    -- ResourceQuota sets aggregate quota restrictions enforced per namespace
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        ResourceQuotaSpec
    status      ResourceQuotaStatus

ResourceQuotaSpec
    hard           {}quantity
    scopes         []string  atomic
    scopeSelector  ScopeSelector

ScopeSelector
    matchExpressions  []ScopedResourceSelectorRequirement  atomic

ScopedResourceSelectorRequirement
    scopeName  string
    operator   string
    values     []string  atomic

ResourceQuotaStatus
    hard  {}quantity
    used  {}quantity

LimitRange
    -- LimitRange sets resource usage limits for each kind of resource in a Namespace.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        LimitRangeSpec

LimitRangeSpec
    limits  []LimitRangeItem  atomic

LimitRangeItem
    type                  string
    max                   {}quantity
    min                   {}quantity
    default               {}quantity
    defaultRequest        {}quantity
    maxLimitRequestRatio  {}quantity
"""

_SCHEDULING = """
PriorityClass
    -- PriorityClass defines mapping from a priority class name to the priority integer value.
    apiVersion        string
    kind              string
    metadata          meta.ObjectMeta
    value             integer
    globalDefault     boolean
    description       string
    preemptionPolicy  string
"""

_NETWORKING = """
Ingress
    -- Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a
    -- backend.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        IngressSpec
    status      IngressStatus

IngressSpec
    ingressClassName  string
    defaultBackend    IngressBackend
    tls               []IngressTLS   atomic
    rules             []IngressRule  atomic

IngressBackend
    service   IngressServiceBackend
    resource  core.TypedLocalObjectReference

IngressServiceBackend
    name  string
    port  ServiceBackendPort

ServiceBackendPort
    name    string
    number  integer

IngressTLS
    hosts       []string  atomic
    secretName  string

IngressRule
    host  string
    http  HTTPIngressRuleValue

HTTPIngressRuleValue
    paths  []HTTPIngressPath  atomic

HTTPIngressPath
    path      string
    pathType  string
    backend   IngressBackend

IngressStatus
    loadBalancer  IngressLoadBalancerStatus

IngressLoadBalancerStatus
    ingress  []IngressLoadBalancerIngress  atomic

IngressLoadBalancerIngress
    ip        string
    hostname  string
    ports     []IngressPortStatus  atomic

IngressPortStatus
    port      integer
    protocol  string
    error     string

IngressClass
    -- IngressClass represents the class of the Ingress, referenced by the Ingress Spec.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        IngressClassSpec

IngressClassSpec
    controller  string
    parameters  IngressClassParametersReference

IngressClassParametersReference
    apiGroup   string
    kind       string
    name       string
    scope      string
    namespace  string
"""

_AUTOSCALING_V1 = """
HorizontalPodAutoscaler
    -- configuration of a horizontal pod autoscaler.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        HorizontalPodAutoscalerSpec
    status      HorizontalPodAutoscalerStatus

HorizontalPodAutoscalerSpec
    scaleTargetRef                  CrossVersionObjectReference
    minReplicas                     integer
    maxReplicas                     integer
    targetCPUUtilizationPercentage  integer

CrossVersionObjectReference
    kind        string
    name        string
    apiVersion  string

HorizontalPodAutoscalerStatus
    observedGeneration               integer
    lastScaleTime                    time
    currentReplicas                  integer
    desiredReplicas                  integer
    currentCPUUtilizationPercentage  integer
"""

_AUTOSCALING_V2 = """
HorizontalPodAutoscaler
    -- HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which automatically
    -- manages the replica count of any resource implementing the scale subresource based on the metrics
    -- specified.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        HorizontalPodAutoscalerSpec
    status      HorizontalPodAutoscalerStatus

HorizontalPodAutoscalerSpec
    scaleTargetRef  CrossVersionObjectReference
    minReplicas     integer
    maxReplicas     integer
    metrics         []MetricSpec  atomic
    behavior        HorizontalPodAutoscalerBehavior

CrossVersionObjectReference
    kind        string
    name        string
    apiVersion  string

MetricSpec
    type               string
    object             ObjectMetricSource
    pods               PodsMetricSource
    resource           ResourceMetricSource
    containerResource  ContainerResourceMetricSource
    external           ExternalMetricSource

ObjectMetricSource
    describedObject  CrossVersionObjectReference
    target           MetricTarget
    metric           MetricIdentifier

PodsMetricSource
    metric  MetricIdentifier
    target  MetricTarget

ResourceMetricSource
    name    string
    target  MetricTarget

ContainerResourceMetricSource
    name       string
    target     MetricTarget
    container  string

ExternalMetricSource
    metric  MetricIdentifier
    target  MetricTarget

MetricIdentifier
    name      string
    selector  meta.LabelSelector

MetricTarget
    type                string
    value               quantity
    averageValue        quantity
    averageUtilization  integer

HorizontalPodAutoscalerBehavior
    scaleUp    HPAScalingRules
    scaleDown  HPAScalingRules

HPAScalingRules
    stabilizationWindowSeconds  integer
    selectPolicy                string
    policies                    []HPAScalingPolicy  atomic

HPAScalingPolicy
    type           string
    value          integer
    periodSeconds  integer

HorizontalPodAutoscalerStatus
    observedGeneration  integer
    lastScaleTime       time
    currentReplicas     integer
    desiredReplicas     integer
    currentMetrics      []MetricStatus  atomic
    conditions          []HorizontalPodAutoscalerCondition  merge:type map(type)

MetricStatus
    type               string
    object             ObjectMetricStatus
    pods               PodsMetricStatus
    resource           ResourceMetricStatus
    containerResource  ContainerResourceMetricStatus
    external           ExternalMetricStatus

ObjectMetricStatus
    metric           MetricIdentifier
    current          MetricValueStatus
    describedObject  CrossVersionObjectReference

PodsMetricStatus
    metric   MetricIdentifier
    current  MetricValueStatus

ResourceMetricStatus
    name     string
    current  MetricValueStatus

ContainerResourceMetricStatus
    name       string
    current    MetricValueStatus
    container  string

ExternalMetricStatus
    metric   MetricIdentifier
    current  MetricValueStatus

MetricValueStatus
    value               quantity
    averageValue        quantity
    averageUtilization  integer

HorizontalPodAutoscalerCondition
    type                string
    status              string
    lastTransitionTime  time
    reason              string
    message             string
"""

TYPES: dict[str, ObjectType] = {
    **parse_types("core", _CORE),
    **parse_types("scheduling", _SCHEDULING),
    **parse_types("networking", _NETWORKING),
    **parse_types("autoscaling", _AUTOSCALING_V1),
    **parse_types("autoscalingv2", _AUTOSCALING_V2),
}
