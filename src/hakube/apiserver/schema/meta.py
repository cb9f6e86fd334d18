"""meta/v1 types every object shares: ObjectMeta, LabelSelector, DeleteOptions, Status.

They live in apimachinery rather than k8s.io/api, and every kind's table refers
to them, so they get their own module. Two types are open (free-form by design):
FieldsV1, the managed-fields set, and Patch, a PATCH body whose shape depends on
its content type.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

TYPES: dict[str, ObjectType] = parse_types(
    "meta",
    """
ObjectMeta
    name                        string
    generateName                string
    namespace                   string
    selfLink                    string
    uid                         string
    resourceVersion             string
    generation                  integer
    creationTimestamp           time
    deletionTimestamp           time
    deletionGracePeriodSeconds  integer
    labels                      {}string
    annotations                 {}string
    ownerReferences             []OwnerReference      merge:uid map(uid)
    finalizers                  []string              merge set
    managedFields               []ManagedFieldsEntry  atomic

OwnerReference
    apiVersion          string
    kind                string
    name                string
    uid                 string
    controller          boolean
    blockOwnerDeletion  boolean

ManagedFieldsEntry
    apiVersion   string
    manager      string
    operation    string
    time         time
    fieldsType   string
    fieldsV1     FieldsV1
    subresource  string

FieldsV1 open

LabelSelector
    matchLabels       {}string
    matchExpressions  []LabelSelectorRequirement  atomic

LabelSelectorRequirement
    key       string
    operator  string
    values    []string  atomic

Condition
    type                string
    status              string
    observedGeneration  integer
    lastTransitionTime  time
    reason              string
    message             string

ListMeta
    selfLink            string
    resourceVersion     string
    continue            string
    remainingItemCount  integer

DeleteOptions
    -- DeleteOptions may be provided when deleting an API object.
    apiVersion                                        string
    kind                                              string
    gracePeriodSeconds                                integer
    preconditions                                     Preconditions
    orphanDependents                                  boolean
    propagationPolicy                                 string
    dryRun                                            []string  atomic
    ignoreStoreReadErrorWithClusterBreakingPotential  boolean

Preconditions
    uid              string
    resourceVersion  string

Status
    -- Status is a return value for calls that don't return other objects.
    apiVersion  string
    kind        string
    metadata    ListMeta
    status      string
    message     string
    reason      string
    details     StatusDetails
    code        integer

StatusDetails
    kind               string
    name               string
    group              string
    uid                string
    causes             []StatusCause  atomic
    retryAfterSeconds  integer

StatusCause
    reason   string
    message  string
    field    string

Patch open
    -- A PATCH request body; its shape depends on the patch content type.
""",
)
