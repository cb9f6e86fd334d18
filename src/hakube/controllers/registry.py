"""The controllers the controller-manager can run, by name (`--controllers`)."""

from __future__ import annotations

from collections.abc import Callable

from hakube.controllers.base import Controller
from hakube.controllers.deployment import DeploymentController
from hakube.controllers.endpoints import EndpointsController
from hakube.controllers.endpointslice import EndpointSliceController
from hakube.controllers.garbagecollector import GarbageCollector
from hakube.controllers.kubernetesservice import KubernetesServiceController
from hakube.controllers.namespace import NamespaceController
from hakube.controllers.nodelifecycle import NodeLifecycleController
from hakube.controllers.replicaset import ReplicaSetController
from hakube.controllers.serviceaccount import ServiceAccountController

# name -> factory. Each controller module adds its line here.
CONTROLLERS: dict[str, Callable[[], Controller]] = {}
CONTROLLERS["nodelifecycle"] = NodeLifecycleController
CONTROLLERS["deployment"] = DeploymentController
CONTROLLERS["replicaset"] = ReplicaSetController
CONTROLLERS["namespace"] = NamespaceController
CONTROLLERS["garbagecollector"] = GarbageCollector
CONTROLLERS["serviceaccount"] = ServiceAccountController
CONTROLLERS["endpoints"] = EndpointsController
CONTROLLERS["endpointslice"] = EndpointSliceController
CONTROLLERS["kubernetes-service"] = KubernetesServiceController
