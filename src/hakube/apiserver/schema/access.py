"""Who may do what: rbac.authorization.k8s.io/v1 roles and bindings,
authentication.k8s.io/v1 TokenRequest and SelfSubjectReview, and the
authorization.k8s.io/v1 access reviews.

Field names and list types are those of k8s.io/api `rbac/v1`, `authentication/v1`
and `authorization/v1` (release-1.32). Every list of these types is atomic upstream
(`+listType=atomic`). The free-form `extra` maps (`map[string][]string`) are
`{}any` here: the table has no nested collections.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

_RBAC = """
Role
    -- Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a
    -- RoleBinding.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    rules       []PolicyRule  atomic

ClusterRole
    -- ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by
    -- a RoleBinding or ClusterRoleBinding.
    apiVersion       string
    kind             string
    metadata         meta.ObjectMeta
    rules            []PolicyRule  atomic
    aggregationRule  AggregationRule

AggregationRule
    clusterRoleSelectors  []meta.LabelSelector  atomic

PolicyRule
    -- PolicyRule holds information that describes a policy rule, but does not contain information about
    -- who the rule applies to or which namespace the rule applies to.
    verbs            []string  atomic
    apiGroups        []string  atomic
    resources        []string  atomic
    resourceNames    []string  atomic
    nonResourceURLs  []string  atomic

RoleBinding
    -- RoleBinding references a role, but does not contain it. It can reference a Role in the same
    -- namespace or a ClusterRole in the global namespace.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    subjects    []Subject  atomic
    roleRef     RoleRef

ClusterRoleBinding
    -- ClusterRoleBinding references a ClusterRole, but not contain it. It can reference a ClusterRole in
    -- the global namespace, and adds who information via Subject.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    subjects    []Subject  atomic
    roleRef     RoleRef

Subject
    kind       string
    apiGroup   string
    name       string
    namespace  string

RoleRef
    apiGroup  string
    kind      string
    name      string
"""

_AUTHENTICATION = """
TokenRequest
    -- TokenRequest requests a token for a given service account.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        TokenRequestSpec
    status      TokenRequestStatus

TokenRequestSpec
    audiences          []string  atomic
    expirationSeconds  integer
    boundObjectRef     BoundObjectReference

BoundObjectReference
    kind        string
    apiVersion  string
    name        string
    uid         string

TokenRequestStatus
    token                string
    expirationTimestamp  time

SelfSubjectReview
    -- SelfSubjectReview contains the user information that the kube-apiserver has about the user making
    -- this request.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    status      SelfSubjectReviewStatus

SelfSubjectReviewStatus
    userInfo  UserInfo

UserInfo
    username  string
    uid       string
    groups    []string  atomic
    extra     {}any
"""

_AUTHORIZATION = """
SelfSubjectAccessReview
    -- SelfSubjectAccessReview checks whether or the current user can perform an action.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        SelfSubjectAccessReviewSpec
    status      SubjectAccessReviewStatus

SelfSubjectAccessReviewSpec
    resourceAttributes     ResourceAttributes
    nonResourceAttributes  NonResourceAttributes

SubjectAccessReview
    -- SubjectAccessReview checks whether or not a user or group can perform an action.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        SubjectAccessReviewSpec
    status      SubjectAccessReviewStatus

LocalSubjectAccessReview
    -- LocalSubjectAccessReview checks whether or not a user or group can perform an action in a given
    -- namespace.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        SubjectAccessReviewSpec
    status      SubjectAccessReviewStatus

SubjectAccessReviewSpec
    resourceAttributes     ResourceAttributes
    nonResourceAttributes  NonResourceAttributes
    user                   string
    groups                 []string  atomic
    extra                  {}any
    uid                    string

ResourceAttributes
    namespace      string
    verb           string
    group          string
    version        string
    resource       string
    subresource    string
    name           string
    fieldSelector  FieldSelectorAttributes
    labelSelector  LabelSelectorAttributes

FieldSelectorAttributes
    rawSelector   string
    requirements  []FieldSelectorRequirement  atomic

FieldSelectorRequirement
    key       string
    operator  string
    values    []string  atomic

LabelSelectorAttributes
    rawSelector   string
    requirements  []meta.LabelSelectorRequirement  atomic

NonResourceAttributes
    path  string
    verb  string

SubjectAccessReviewStatus
    allowed          boolean
    denied           boolean
    reason           string
    evaluationError  string

SelfSubjectRulesReview
    -- SelfSubjectRulesReview enumerates the set of actions the current user can perform within a
    -- namespace.
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        SelfSubjectRulesReviewSpec
    status      SubjectRulesReviewStatus

SelfSubjectRulesReviewSpec
    namespace  string

SubjectRulesReviewStatus
    resourceRules     []ResourceRule     atomic
    nonResourceRules  []NonResourceRule  atomic
    incomplete        boolean
    evaluationError   string

ResourceRule
    verbs          []string  atomic
    apiGroups      []string  atomic
    resources      []string  atomic
    resourceNames  []string  atomic

NonResourceRule
    verbs            []string  atomic
    nonResourceURLs  []string  atomic
"""

TYPES: dict[str, ObjectType] = {
    **parse_types("rbac", _RBAC),
    **parse_types("authentication", _AUTHENTICATION),
    **parse_types("authorization", _AUTHORIZATION),
}
