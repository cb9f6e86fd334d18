"""core/v1 Container and EphemeralContainer with everything they hold: ports, env,
resources, probes, lifecycle hooks and security contexts.

EphemeralContainer repeats Container's fields (upstream inlines a common struct)
plus `targetContainerName`; the two lists are kept side by side on purpose.
"""

from __future__ import annotations

from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import ObjectType

TYPES: dict[str, ObjectType] = parse_types(
    "core",
    """
ObjectFieldSelector
    apiVersion  string
    fieldPath   string

ResourceFieldSelector
    containerName  string
    resource       string
    divisor        quantity

Container
    name                      string
    image                     string
    command                   []string                 atomic
    args                      []string                 atomic
    workingDir                string
    ports                     []ContainerPort          merge:containerPort map(containerPort,protocol)
    envFrom                   []EnvFromSource          atomic
    env                       []EnvVar                 merge:name map(name)
    resources                 ResourceRequirements
    resizePolicy              []ContainerResizePolicy  atomic
    restartPolicy             string
    volumeMounts              []VolumeMount            merge:mountPath map(mountPath)
    volumeDevices             []VolumeDevice           merge:devicePath map(devicePath)
    livenessProbe             Probe
    readinessProbe            Probe
    startupProbe              Probe
    lifecycle                 Lifecycle
    terminationMessagePath    string
    terminationMessagePolicy  string
    imagePullPolicy           string
    securityContext           SecurityContext
    stdin                     boolean
    stdinOnce                 boolean
    tty                       boolean

ContainerPort
    name           string
    hostPort       integer
    containerPort  integer
    protocol       string
    hostIP         string

EnvFromSource
    prefix        string
    configMapRef  ConfigMapEnvSource
    secretRef     SecretEnvSource

ConfigMapEnvSource
    name      string
    optional  boolean

SecretEnvSource
    name      string
    optional  boolean

EnvVar
    name       string
    value      string
    valueFrom  EnvVarSource

EnvVarSource
    fieldRef          ObjectFieldSelector
    resourceFieldRef  ResourceFieldSelector
    configMapKeyRef   ConfigMapKeySelector
    secretKeyRef      SecretKeySelector

ConfigMapKeySelector
    name      string
    key       string
    optional  boolean

SecretKeySelector
    name      string
    key       string
    optional  boolean

ResourceRequirements
    limits    {}quantity
    requests  {}quantity
    claims    []ResourceClaim  map(name)

ResourceClaim
    name     string
    request  string

ContainerResizePolicy
    resourceName   string
    restartPolicy  string

VolumeMount
    name               string
    readOnly           boolean
    recursiveReadOnly  string
    mountPath          string
    subPath            string
    mountPropagation   string
    subPathExpr        string

VolumeDevice
    name        string
    devicePath  string

Probe
    exec                           ExecAction
    httpGet                        HTTPGetAction
    tcpSocket                      TCPSocketAction
    grpc                           GRPCAction
    initialDelaySeconds            integer
    timeoutSeconds                 integer
    periodSeconds                  integer
    successThreshold               integer
    failureThreshold               integer
    terminationGracePeriodSeconds  integer

ExecAction
    command  []string  atomic

HTTPGetAction
    path         string
    port         int-or-string
    host         string
    scheme       string
    httpHeaders  []HTTPHeader  atomic

HTTPHeader
    name   string
    value  string

TCPSocketAction
    port  int-or-string
    host  string

GRPCAction
    port     integer
    service  string

Lifecycle
    postStart  LifecycleHandler
    preStop    LifecycleHandler

LifecycleHandler
    exec       ExecAction
    httpGet    HTTPGetAction
    tcpSocket  TCPSocketAction
    sleep      SleepAction

SleepAction
    seconds  integer

SecurityContext
    capabilities              Capabilities
    privileged                boolean
    seLinuxOptions            SELinuxOptions
    windowsOptions            WindowsSecurityContextOptions
    runAsUser                 integer
    runAsGroup                integer
    runAsNonRoot              boolean
    readOnlyRootFilesystem    boolean
    allowPrivilegeEscalation  boolean
    procMount                 string
    seccompProfile            SeccompProfile
    appArmorProfile           AppArmorProfile

Capabilities
    add   []string  atomic
    drop  []string  atomic

SELinuxOptions
    user   string
    role   string
    type   string
    level  string

WindowsSecurityContextOptions
    gmsaCredentialSpecName  string
    gmsaCredentialSpec      string
    runAsUserName           string
    hostProcess             boolean

SeccompProfile
    type              string
    localhostProfile  string

AppArmorProfile
    type              string
    localhostProfile  string

EphemeralContainer
    name                      string
    image                     string
    command                   []string                 atomic
    args                      []string                 atomic
    workingDir                string
    ports                     []ContainerPort          merge:containerPort map(containerPort,protocol)
    envFrom                   []EnvFromSource          atomic
    env                       []EnvVar                 merge:name map(name)
    resources                 ResourceRequirements
    resizePolicy              []ContainerResizePolicy  atomic
    restartPolicy             string
    volumeMounts              []VolumeMount            merge:mountPath map(mountPath)
    volumeDevices             []VolumeDevice           merge:devicePath map(devicePath)
    livenessProbe             Probe
    readinessProbe            Probe
    startupProbe              Probe
    lifecycle                 Lifecycle
    terminationMessagePath    string
    terminationMessagePolicy  string
    imagePullPolicy           string
    securityContext           SecurityContext
    stdin                     boolean
    stdinOnce                 boolean
    tty                       boolean
    targetContainerName       string
""",
)
