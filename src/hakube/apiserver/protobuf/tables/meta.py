"""apimachinery meta/v1: ObjectMeta and the other types every kind shares.

Time, MicroTime, FieldsV1, IntOrString and Quantity are not here: their JSON
form is not an object, so the decoder reads them itself (see SCALARS).
"""

from __future__ import annotations

from hakube.apiserver.protobuf.table import Message, parse_messages

_META = """
Condition
    1   type                string?
    2   status              string?
    3   observedGeneration  int64
    4   lastTransitionTime  time?
    5   reason              string?
    6   message             string?

DeleteOptions
    1   gracePeriodSeconds                                int64?
    2   preconditions                                     Preconditions
    3   orphanDependents                                  bool?
    4   propagationPolicy                                 string?
    5   dryRun                                            []string
    6   ignoreStoreReadErrorWithClusterBreakingPotential  bool?

FieldSelectorRequirement
    1   key       string?
    2   operator  string?
    3   values    []string

LabelSelector
    1   matchLabels       {}string
    2   matchExpressions  []LabelSelectorRequirement

LabelSelectorRequirement
    1   key       string?
    2   operator  string?
    3   values    []string

ManagedFieldsEntry
    1   manager      string
    2   operation    string
    3   apiVersion   string
    4   time         time?
    6   fieldsType   string
    7   fieldsV1     fields?
    8   subresource  string

ObjectMeta
    1   name                        string
    2   generateName                string
    3   namespace                   string
    4   selfLink                    string
    5   uid                         string
    6   resourceVersion             string
    7   generation                  int64
    8   creationTimestamp           time
    9   deletionTimestamp           time?
    10  deletionGracePeriodSeconds  int64?
    11  labels                      {}string
    12  annotations                 {}string
    13  ownerReferences             []OwnerReference
    14  finalizers                  []string
    17  managedFields               []ManagedFieldsEntry

OwnerReference
    1   kind                string?
    3   name                string?
    4   uid                 string?
    5   apiVersion          string?
    6   controller          bool?
    7   blockOwnerDeletion  bool?

Preconditions
    1   uid              string?
    2   resourceVersion  string?
"""

MESSAGES: dict[str, Message] = parse_messages("meta", _META)
