"""Who may do what: rbac.authorization.k8s.io/v1 roles and bindings,
authentication.k8s.io/v1 (TokenRequest, TokenReview, SelfSubjectReview) and
authorization.k8s.io/v1 access reviews.
"""

from __future__ import annotations

from hakube.apiserver.protobuf.table import Message, parse_messages

_RBAC = """
AggregationRule
    1   clusterRoleSelectors  []meta.LabelSelector

ClusterRole
    1   metadata         meta.ObjectMeta
    2   rules            []PolicyRule
    3   aggregationRule  AggregationRule

ClusterRoleBinding
    1   metadata  meta.ObjectMeta
    2   subjects  []Subject
    3   roleRef   RoleRef

PolicyRule
    1   verbs            []string
    2   apiGroups        []string
    3   resources        []string
    4   resourceNames    []string
    5   nonResourceURLs  []string

Role
    1   metadata  meta.ObjectMeta
    2   rules     []PolicyRule

RoleBinding
    1   metadata  meta.ObjectMeta
    2   subjects  []Subject
    3   roleRef   RoleRef

RoleRef
    1   apiGroup  string?
    2   kind      string?
    3   name      string?

Subject
    1   kind       string?
    2   apiGroup   string
    3   name       string?
    4   namespace  string
"""

_AUTHENTICATION = """
BoundObjectReference
    1   kind        string
    2   apiVersion  string
    3   name        string
    4   uid         string

ExtraValue list
    1   items  []string

SelfSubjectReview
    1   metadata  meta.ObjectMeta
    2   status    SelfSubjectReviewStatus

SelfSubjectReviewStatus
    1   userInfo  UserInfo

TokenRequest
    1   metadata  meta.ObjectMeta
    2   spec      TokenRequestSpec
    3   status    TokenRequestStatus

TokenRequestSpec
    1   audiences          []string
    3   boundObjectRef     BoundObjectReference
    4   expirationSeconds  int64?

TokenRequestStatus
    1   token                string?
    2   expirationTimestamp  time?

TokenReview
    1   metadata  meta.ObjectMeta
    2   spec      TokenReviewSpec
    3   status    TokenReviewStatus

TokenReviewSpec
    1   token      string
    2   audiences  []string

TokenReviewStatus
    1   authenticated  bool
    2   user           UserInfo
    3   error          string
    4   audiences      []string

UserInfo
    1   username  string
    2   uid       string
    3   groups    []string
    4   extra     {}ExtraValue
"""

_AUTHORIZATION = """
ExtraValue list
    1   items  []string

FieldSelectorAttributes
    1   rawSelector   string
    2   requirements  []meta.FieldSelectorRequirement

LabelSelectorAttributes
    1   rawSelector   string
    2   requirements  []meta.LabelSelectorRequirement

LocalSubjectAccessReview
    1   metadata  meta.ObjectMeta
    2   spec      SubjectAccessReviewSpec
    3   status    SubjectAccessReviewStatus

NonResourceAttributes
    1   path  string
    2   verb  string

NonResourceRule
    1   verbs            []string
    2   nonResourceURLs  []string

ResourceAttributes
    1   namespace      string
    2   verb           string
    3   group          string
    4   version        string
    5   resource       string
    6   subresource    string
    7   name           string
    8   fieldSelector  FieldSelectorAttributes
    9   labelSelector  LabelSelectorAttributes

ResourceRule
    1   verbs          []string
    2   apiGroups      []string
    3   resources      []string
    4   resourceNames  []string

SelfSubjectAccessReview
    1   metadata  meta.ObjectMeta
    2   spec      SelfSubjectAccessReviewSpec
    3   status    SubjectAccessReviewStatus

SelfSubjectAccessReviewSpec
    1   resourceAttributes     ResourceAttributes
    2   nonResourceAttributes  NonResourceAttributes

SelfSubjectRulesReview
    1   metadata  meta.ObjectMeta
    2   spec      SelfSubjectRulesReviewSpec
    3   status    SubjectRulesReviewStatus

SelfSubjectRulesReviewSpec
    1   namespace  string

SubjectAccessReview
    1   metadata  meta.ObjectMeta
    2   spec      SubjectAccessReviewSpec
    3   status    SubjectAccessReviewStatus

SubjectAccessReviewSpec
    1   resourceAttributes     ResourceAttributes
    2   nonResourceAttributes  NonResourceAttributes
    3   user                   string
    4   groups                 []string
    5   extra                  {}ExtraValue
    6   uid                    string

SubjectAccessReviewStatus
    1   allowed          bool?
    2   reason           string
    3   evaluationError  string
    4   denied           bool

SubjectRulesReviewStatus
    1   resourceRules     []ResourceRule
    2   nonResourceRules  []NonResourceRule
    3   incomplete        bool?
    4   evaluationError   string
"""

MESSAGES: dict[str, Message] = {
    **parse_messages("rbac", _RBAC),
    **parse_messages("authentication", _AUTHENTICATION),
    **parse_messages("authorization", _AUTHORIZATION),
}
