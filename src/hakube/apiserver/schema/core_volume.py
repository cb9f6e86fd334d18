"""core/v1 Volume and its ~30 volume sources, plus PersistentVolumeClaim, which
StatefulSet `volumeClaimTemplates` and ephemeral volumes embed.

Every source is enumerated (none is left open), so a typo inside a volume is
reported like any other unknown field.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

TYPES: dict[str, ObjectType] = parse_types(
    "core",
    """
Volume
    name                   string
    hostPath               HostPathVolumeSource
    emptyDir               EmptyDirVolumeSource
    gcePersistentDisk      GCEPersistentDiskVolumeSource
    awsElasticBlockStore   AWSElasticBlockStoreVolumeSource
    gitRepo                GitRepoVolumeSource
    secret                 SecretVolumeSource
    nfs                    NFSVolumeSource
    iscsi                  ISCSIVolumeSource
    glusterfs              GlusterfsVolumeSource
    persistentVolumeClaim  PersistentVolumeClaimVolumeSource
    rbd                    RBDVolumeSource
    flexVolume             FlexVolumeSource
    cinder                 CinderVolumeSource
    cephfs                 CephFSVolumeSource
    flocker                FlockerVolumeSource
    downwardAPI            DownwardAPIVolumeSource
    fc                     FCVolumeSource
    azureFile              AzureFileVolumeSource
    configMap              ConfigMapVolumeSource
    vsphereVolume          VsphereVirtualDiskVolumeSource
    quobyte                QuobyteVolumeSource
    azureDisk              AzureDiskVolumeSource
    photonPersistentDisk   PhotonPersistentDiskVolumeSource
    projected              ProjectedVolumeSource
    portworxVolume         PortworxVolumeSource
    scaleIO                ScaleIOVolumeSource
    storageos              StorageOSVolumeSource
    csi                    CSIVolumeSource
    ephemeral              EphemeralVolumeSource
    image                  ImageVolumeSource

HostPathVolumeSource
    path  string
    type  string

EmptyDirVolumeSource
    medium     string
    sizeLimit  quantity

GCEPersistentDiskVolumeSource
    pdName     string
    fsType     string
    partition  integer
    readOnly   boolean

AWSElasticBlockStoreVolumeSource
    volumeID   string
    fsType     string
    partition  integer
    readOnly   boolean

GitRepoVolumeSource
    repository  string
    revision    string
    directory   string

SecretVolumeSource
    secretName   string
    items        []KeyToPath  atomic
    defaultMode  integer
    optional     boolean

KeyToPath
    key   string
    path  string
    mode  integer

NFSVolumeSource
    server    string
    path      string
    readOnly  boolean

ISCSIVolumeSource
    targetPortal       string
    iqn                string
    lun                integer
    iscsiInterface     string
    fsType             string
    readOnly           boolean
    portals            []string  atomic
    chapAuthDiscovery  boolean
    chapAuthSession    boolean
    secretRef          LocalObjectReference
    initiatorName      string

GlusterfsVolumeSource
    endpoints  string
    path       string
    readOnly   boolean

PersistentVolumeClaimVolumeSource
    claimName  string
    readOnly   boolean

RBDVolumeSource
    monitors   []string  atomic
    image      string
    fsType     string
    pool       string
    user       string
    keyring    string
    secretRef  LocalObjectReference
    readOnly   boolean

FlexVolumeSource
    driver     string
    fsType     string
    secretRef  LocalObjectReference
    readOnly   boolean
    options    {}string

CinderVolumeSource
    volumeID   string
    fsType     string
    readOnly   boolean
    secretRef  LocalObjectReference

CephFSVolumeSource
    monitors    []string  atomic
    path        string
    user        string
    secretFile  string
    secretRef   LocalObjectReference
    readOnly    boolean

FlockerVolumeSource
    datasetName  string
    datasetUUID  string

DownwardAPIVolumeSource
    items        []DownwardAPIVolumeFile  atomic
    defaultMode  integer

DownwardAPIVolumeFile
    path              string
    fieldRef          ObjectFieldSelector
    resourceFieldRef  ResourceFieldSelector
    mode              integer

FCVolumeSource
    targetWWNs  []string  atomic
    lun         integer
    fsType      string
    readOnly    boolean
    wwids       []string  atomic

AzureFileVolumeSource
    secretName  string
    shareName   string
    readOnly    boolean

ConfigMapVolumeSource
    name         string
    items        []KeyToPath  atomic
    defaultMode  integer
    optional     boolean

VsphereVirtualDiskVolumeSource
    volumePath         string
    fsType             string
    storagePolicyName  string
    storagePolicyID    string

QuobyteVolumeSource
    registry  string
    volume    string
    readOnly  boolean
    user      string
    group     string
    tenant    string

AzureDiskVolumeSource
    kind         string
    diskName     string
    diskURI      string
    cachingMode  string
    fsType       string
    readOnly     boolean

PhotonPersistentDiskVolumeSource
    pdID    string
    fsType  string

ProjectedVolumeSource
    sources      []VolumeProjection  atomic
    defaultMode  integer

VolumeProjection
    secret               SecretProjection
    downwardAPI          DownwardAPIProjection
    configMap            ConfigMapProjection
    serviceAccountToken  ServiceAccountTokenProjection
    clusterTrustBundle   ClusterTrustBundleProjection

SecretProjection
    name      string
    items     []KeyToPath  atomic
    optional  boolean

DownwardAPIProjection
    items  []DownwardAPIVolumeFile  atomic

ConfigMapProjection
    name      string
    items     []KeyToPath  atomic
    optional  boolean

ServiceAccountTokenProjection
    audience           string
    expirationSeconds  integer
    path               string

ClusterTrustBundleProjection
    name           string
    signerName     string
    labelSelector  meta.LabelSelector
    optional       boolean
    path           string

PortworxVolumeSource
    volumeID  string
    fsType    string
    readOnly  boolean

ScaleIOVolumeSource
    gateway           string
    system            string
    secretRef         LocalObjectReference
    sslEnabled        boolean
    protectionDomain  string
    storagePool       string
    storageMode       string
    volumeName        string
    fsType            string
    readOnly          boolean

StorageOSVolumeSource
    volumeName       string
    volumeNamespace  string
    fsType           string
    readOnly         boolean
    secretRef        LocalObjectReference

CSIVolumeSource
    driver                string
    readOnly              boolean
    fsType                string
    volumeAttributes      {}string
    nodePublishSecretRef  LocalObjectReference

EphemeralVolumeSource
    volumeClaimTemplate  PersistentVolumeClaimTemplate

PersistentVolumeClaimTemplate
    metadata  meta.ObjectMeta
    spec      PersistentVolumeClaimSpec

PersistentVolumeClaimSpec
    accessModes                []string  atomic
    selector                   meta.LabelSelector
    resources                  VolumeResourceRequirements
    volumeName                 string
    storageClassName           string
    volumeMode                 string
    dataSource                 TypedLocalObjectReference
    dataSourceRef              TypedObjectReference
    volumeAttributesClassName  string

VolumeResourceRequirements
    limits    {}quantity
    requests  {}quantity

TypedLocalObjectReference
    kind      string
    apiGroup  string
    name      string

TypedObjectReference
    kind       string
    apiGroup   string
    name       string
    namespace  string

ImageVolumeSource
    reference   string
    pullPolicy  string

AttachedVolume
    name        string
    devicePath  string

PersistentVolumeClaim
    apiVersion  string
    kind        string
    metadata    meta.ObjectMeta
    spec        PersistentVolumeClaimSpec
    status      PersistentVolumeClaimStatus

PersistentVolumeClaimStatus
    phase                             string
    accessModes                       []string                          atomic
    capacity                          {}quantity
    conditions                        []PersistentVolumeClaimCondition  merge:type map(type)
    allocatedResources                {}quantity
    allocatedResourceStatuses         {}string
    currentVolumeAttributesClassName  string
    modifyVolumeStatus                ModifyVolumeStatus

PersistentVolumeClaimCondition
    type                string
    status              string
    lastProbeTime       time
    lastTransitionTime  time
    reason              string
    message             string

ModifyVolumeStatus
    targetVolumeAttributesClassName  string
    status                           string
""",
)
