"""The Deployment controller: roll ReplicaSets from one pod template to the next.

A port of k/k `pkg/controller/deployment/` — `deployment_controller.go`
(event handlers, syncDeployment), `sync.go` (new ReplicaSet, revisions,
proportional scaling, history cleanup, status), `rolling.go`, `recreate.go`
and `progress.go` (the Progressing condition and progressDeadlineSeconds).
This module holds the controller, its event handlers and the ReplicaSet
writes; `deployment_rollout.py` the strategies, scaling, history cleanup and
the progress check; `deployment_util.py` and `deployment_status.py` the
pure arithmetic.

Every write carries what it was computed from: ReplicaSet and Deployment
updates send the resourceVersion read from the informer (a stale read is a
409 and a retry), deletions a uid precondition.
"""

from __future__ import annotations

import copy
import logging

from hakube.client.api import DEPLOYMENTS, PODS, REPLICASETS, ApiError, Obj
from hakube.client.events import EventRecorder
from hakube.client.informer import Informer, key_of
from hakube.client.workqueue import WorkQueue
from hakube.controllers import deployment_status as ds
from hakube.controllers import deployment_util as du
from hakube.controllers.base import ControllerContext
from hakube.controllers.deployment_rollout import cleanup, rollout_recreate, rollout_rolling, scale
from hakube.controllers.objects import (
    OwnerIndex,
    controller_of,
    controller_ref,
    is_deleting,
    labels_of,
    selector_matches,
    selects_everything,
    uid_of,
)
from hakube.controllers.podcontrol import RefManager, namespace_terminating

log = logging.getLogger(__name__)

KIND = "Deployment"
API_VERSION = "apps/v1"


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def described(obj: Obj, kind: str = KIND) -> Obj:
    return {**obj, "kind": kind, "apiVersion": API_VERSION}


class DeploymentController:
    name = "deployment"

    def __init__(self) -> None:
        self.queue = WorkQueue()
        self.replicasets = OwnerIndex()
        self.pods = OwnerIndex()
        # uid -> the resourceVersion one of our own writes replaced: a sync that would start
        # from it can only end in a 409, and the write's watch event queues the sync again.
        self._superseded: dict[str, str] = {}
        self._ctx: ControllerContext | None = None
        self._deployments: Informer | None = None
        self._rs_informer: Informer | None = None

    @property
    def ctx(self) -> ControllerContext:
        assert self._ctx is not None, "setup() first"
        return self._ctx

    @property
    def deployments(self) -> Informer:
        assert self._deployments is not None, "setup() first"
        return self._deployments

    @property
    def rs_informer(self) -> Informer:
        assert self._rs_informer is not None, "setup() first"
        return self._rs_informer

    def setup(self, ctx: ControllerContext) -> None:
        self._ctx = ctx
        # Events name the controller, as upstream's per-controller recorders do.
        self.recorder = EventRecorder(ctx.client, "deployment-controller", host=ctx.recorder.host)
        self._deployments = ctx.informers.get(DEPLOYMENTS)
        self._deployments.add_handler(self._on_deployment)
        self._rs_informer = ctx.informers.get(REPLICASETS)
        self._rs_informer.add_handler(self._on_replicaset)
        ctx.informers.get(PODS).add_handler(self._on_pod)

    async def run(self, ctx: ControllerContext) -> None:
        for d in self.deployments.items():
            self.queue.add(key_of(d))
        try:
            await self.queue.run_workers(self.sync, workers=ctx.settings.workers, name=self.name)
        finally:
            self.queue.shutdown()

    # -- event handlers -----------------------------------------------------------------------

    def _seen(self, event_type: str, obj: Obj) -> None:
        uid = uid_of(obj)
        if uid in self._superseded and (event_type == "DELETED" or self._superseded[uid] != _rv(obj)):
            del self._superseded[uid]

    def _stale(self, obj: Obj) -> bool:
        return self._superseded.get(uid_of(obj)) == _rv(obj)

    def _on_deployment(self, event_type: str, d: Obj, old: Obj | None) -> None:
        self._seen(event_type, d)
        self.queue.add(key_of(d))

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != KIND:
            return None
        d = self.deployments.get(f"{namespace}/{ref.get('name')}")
        return d if d is not None and uid_of(d) == ref.get("uid") else None

    def _deployments_for(self, rs: Obj) -> list[Obj]:
        """Deployments whose selector takes this orphan ReplicaSet (getDeploymentsForReplicaSet)."""
        namespace = rs["metadata"].get("namespace")
        found = []
        for d in self.deployments.items():
            selector = (d.get("spec") or {}).get("selector")
            if d["metadata"].get("namespace") != namespace or selects_everything(selector):
                continue
            if selector_matches(selector, labels_of(rs)):
                found.append(d)
        return found

    def _on_replicaset(self, event_type: str, rs: Obj, old: Obj | None) -> None:
        self.replicasets.on_event(event_type, rs, old)
        self._seen(event_type, rs)
        namespace = rs["metadata"].get("namespace") or ""
        ref = controller_of(rs)
        if old is not None and event_type != "DELETED":
            if old["metadata"].get("resourceVersion") == rs["metadata"].get("resourceVersion"):
                return
            old_ref = controller_of(old)
            if old_ref != ref and old_ref is not None:
                previous = self._resolve(namespace, old_ref)
                if previous is not None:
                    self.queue.add(key_of(previous))
            if ref is None and labels_of(old) == labels_of(rs) and old_ref == ref:
                return
        if ref is not None:
            d = self._resolve(namespace, ref)
            if d is not None:
                self.queue.add(key_of(d))
            return
        if event_type != "DELETED":
            for d in self._deployments_for(rs):
                self.queue.add(key_of(d))

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        self.pods.on_event(event_type, pod, old)
        if event_type != "DELETED":
            return
        # A Recreate rollout waits for the old pods to be gone (deletePod).
        namespace = pod["metadata"].get("namespace") or ""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{namespace}/{ref.get('name')}")
        if rs is None or uid_of(rs) != ref.get("uid"):
            return
        d = self._resolve(namespace, controller_of(rs))
        if d is not None and du.strategy_type(d) == "Recreate":
            self.queue.add(key_of(d))

    # -- sync ----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.deployments.get(key)
        if cached is None or self._stale(cached):
            return
        d = described(copy.deepcopy(cached))
        d.setdefault("status", {})
        if selects_everything((d.get("spec") or {}).get("selector")):
            await self.recorder.record(d, reason="SelectingAll", type="Warning",
                                       message="This deployment is selecting all pods. "
                                               "A non-empty selector is required.")
            if int(d["status"].get("observedGeneration") or 0) < int(d["metadata"].get("generation") or 0):
                d["status"]["observedGeneration"] = d["metadata"].get("generation")
                await self.update_status(d)
            return
        rs_list = await self.claim_replicasets(d)
        if any(self._stale(rs) for rs in rs_list):
            return
        pod_map = self.pod_map(d, rs_list)
        if is_deleting(d):
            await self.sync_status_only(d, rs_list)
            return
        await self.check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused"):
            await self.sync_scaling(d, rs_list)
            return
        if await self.is_scaling_event(d, rs_list):
            await self.sync_scaling(d, rs_list)
            return
        if du.strategy_type(d) == "Recreate":
            await rollout_recreate(self, d, rs_list, pod_map)
        else:
            await rollout_rolling(self, d, rs_list)

    async def claim_replicasets(self, d: Obj) -> list[Obj]:
        """getReplicaSetsForDeployment: adopt matching orphans, release what no longer matches."""
        manager = RefManager(self.ctx.client, owner=d, owner_ref=controller_ref(d, kind=KIND, api_version=API_VERSION),
                             ref=REPLICASETS, owner_resource=DEPLOYMENTS, selector=d["spec"].get("selector"))
        return await manager.claim(self.replicasets.candidates(d))

    def pod_map(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """The Deployment's pods by the uid of the ReplicaSet that controls them."""
        selector = d["spec"].get("selector")
        return {uid_of(rs): [p for p in self.pods.owned_by(uid_of(rs)) if selector_matches(selector, labels_of(p))]
                for rs in rs_list}

    # -- writes --------------------------------------------------------------------------------------

    async def update_status(self, d: Obj) -> None:
        """PUT /status with the resourceVersion we read; our own write's version is then the one we hold."""
        updated = await self.ctx.client.replace(DEPLOYMENTS, described(d), subresource="status")
        if _rv(updated) != _rv(d):  # an identical write is a no-op: same version
            self._superseded[uid_of(d)] = _rv(d)
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]

    async def update_rs(self, rs: Obj) -> Obj:
        updated: Obj = await self.ctx.client.replace(REPLICASETS, described(rs, "ReplicaSet"))
        if _rv(updated) != _rv(rs):
            self._superseded[uid_of(rs)] = _rv(rs)
        return updated

    async def scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        """scaleReplicaSet: size and the desired/max-replicas annotations in one update."""
        desired, maximum = du.replicas(d), du.replicas(d) + du.max_surge(d)
        size_changes = du.replicas(rs) != new_scale
        if not size_changes and not du.replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        old_scale = du.replicas(rs)
        rs_copy = copy.deepcopy(rs)
        rs_copy["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs_copy, desired, maximum)
        updated = await self.update_rs(rs_copy)
        if size_changes:
            await self.recorder.record(
                d, reason="ScalingReplicaSet",
                message=f"Scaled {operation} replica set {rs['metadata']['name']} from {old_scale} to {new_scale}")
        return size_changes, updated

    async def scale_rs_and_record(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if du.replicas(rs) == new_scale:
            return False, rs
        return await self.scale_rs(rs, new_scale, d, "up" if du.replicas(rs) < new_scale else "down")

    # -- ReplicaSets and revisions ----------------------------------------------------------------

    async def all_replicasets(self, d: Obj, rs_list: list[Obj], *, create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: (new ReplicaSet or None, all old ones)."""
        current = du.find_new_rs(d, rs_list)
        old = [rs for rs in rs_list if current is None or uid_of(rs) != uid_of(current)]
        new_rs = await self.new_replicaset(d, rs_list, old, create=create)
        if new_rs is not None:
            du.replace_in(rs_list, new_rs)
        return new_rs, old

    async def new_replicaset(self, d: Obj, rs_list: list[Obj], old: list[Obj], *, create: bool) -> Obj | None:
        """getNewReplicaSet: sync the existing new ReplicaSet's revision, or create it."""
        existing = du.find_new_rs(d, rs_list)
        new_revision = du.max_revision(old) + 1
        min_ready = int(d["spec"].get("minReadySeconds") or 0)
        if existing is not None:
            rs_copy = copy.deepcopy(existing)
            changed = du.set_new_rs_annotations(d, rs_copy, new_revision, exists=True)
            if changed or int(rs_copy["spec"].get("minReadySeconds") or 0) != min_ready:
                if min_ready:
                    rs_copy["spec"]["minReadySeconds"] = min_ready
                else:
                    rs_copy["spec"].pop("minReadySeconds", None)  # omitempty, as Go writes it
                return await self.update_rs(rs_copy)
            needs_update = du.set_deployment_revision(d, du.annotations_of(rs_copy).get(du.REVISION, ""))
            if du.has_progress_deadline(d) and ds.get_condition(d["status"], "Progressing") is None:
                ds.set_condition(d["status"], ds.new_condition(
                    "Progressing", "True", du.FOUND_NEW_RS, f'Found new replica set "{rs_copy["metadata"]["name"]}"'))
                needs_update = True
            if needs_update:
                await self.update_status(d)
            return rs_copy
        if not create:
            return None
        return await self._create_new_replicaset(d, old, new_revision, min_ready)

    async def _create_new_replicaset(self, d: Obj, old: list[Obj], new_revision: int, min_ready: int) -> Obj:
        meta = d["metadata"]
        template = copy.deepcopy(du.template_of(d))
        collision = d["status"].get("collisionCount")
        pod_hash = du.compute_hash(template, collision)
        template.setdefault("metadata", {})["labels"] = {**labels_of(template), du.HASH_LABEL: pod_hash}
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.HASH_LABEL: pod_hash}
        name = f"{meta['name']}-{pod_hash}"
        new_rs: Obj = {
            "apiVersion": API_VERSION, "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": meta["namespace"],
                         "ownerReferences": [controller_ref(d, kind=KIND, api_version=API_VERSION)],
                         "labels": dict(template["metadata"]["labels"])},
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        if min_ready:
            new_rs["spec"]["minReadySeconds"] = min_ready
        count = du.new_rs_new_replicas(d, [*old, new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        du.set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        already_exists = False
        try:
            created: Obj = await self.ctx.client.create(REPLICASETS, new_rs, meta["namespace"])
        except ApiError as err:
            if err.reason == "AlreadyExists":
                # A slow cache, or a hash collision: only our own ReplicaSet of this template will do.
                found = self.rs_informer.get(f"{meta['namespace']}/{name}")
                if found is None:
                    raise
                ref = controller_of(found)
                if ref is None or ref.get("uid") != uid_of(d) or \
                        not du.equal_ignore_hash(du.template_of(d), du.template_of(found)):
                    if ref is not None and ref.get("uid") == uid_of(d):
                        # Ours, yet unequal: a true hash collision, or the server stores the template
                        # differently from the Deployment's copy (which would loop through collisions).
                        log.warning("%s/%s: own replica set %s has another template", meta["namespace"],
                                    meta["name"], name)
                    d["status"]["collisionCount"] = int(collision or 0) + 1
                    await self.update_status(d)
                    log.info("%s/%s: hash collision; collisionCount now %d", meta["namespace"], meta["name"],
                             d["status"]["collisionCount"])
                    raise
                created, already_exists = found, True
            elif namespace_terminating(err):
                raise
            else:
                message = f'Failed to create new replica set "{name}": {err.message}'
                if du.has_progress_deadline(d):
                    ds.set_condition(d["status"], ds.new_condition("Progressing", "False", du.FAILED_RS_CREATE,
                                                                   message))
                    try:
                        await self.update_status(d)
                    except ApiError as status_err:
                        log.debug("could not report %s: %s", du.FAILED_RS_CREATE, status_err)
                await self.recorder.record(d, reason=du.FAILED_RS_CREATE, message=message, type="Warning")
                raise
        if not already_exists and count > 0:
            await self.recorder.record(d, reason="ScalingReplicaSet",
                                       message=f"Scaled up replica set {name} from 0 to {count}")
        needs_update = du.set_deployment_revision(d, str(new_revision))
        if not already_exists and du.has_progress_deadline(d):
            ds.set_condition(d["status"], ds.new_condition("Progressing", "True", du.NEW_RS_CREATED,
                                                           f'Created new replica set "{name}"'))
            needs_update = True
        if needs_update:
            await self.update_status(d)
        return created

    # -- scaling, paused deployments, history ---------------------------------------------------------

    async def is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        """A ReplicaSet whose desired-replicas annotation differs from spec.replicas: the user scaled."""
        new_rs, old = await self.all_replicasets(d, rs_list, create=False)
        for rs in du.active([*old, new_rs]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas(d):
                return True
        return False

    async def sync_scaling(self, d: Obj, rs_list: list[Obj]) -> None:
        """sync(): scale without rolling (scaling events and paused deployments)."""
        new_rs, old = await self.all_replicasets(d, rs_list, create=False)
        await scale(self, d, new_rs, old)
        if (d.get("spec") or {}).get("paused"):
            await cleanup(self, old, d)
        await self.sync_deployment_status([*old, new_rs], new_rs, d)

    async def sync_status_only(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old = await self.all_replicasets(d, rs_list, create=False)
        await self.sync_deployment_status([*old, new_rs], new_rs, d)

    async def check_paused_conditions(self, d: Obj) -> None:
        """Progressing=Unknown on pause and resume, so time spent paused never counts against the deadline."""
        if not du.has_progress_deadline(d):
            return
        cond = ds.get_condition(d["status"], "Progressing")
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return
        paused_now = bool((d.get("spec") or {}).get("paused"))
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED
        if paused_now and not paused_cond:
            ds.set_condition(d["status"], ds.new_condition("Progressing", "Unknown", du.PAUSED, "Deployment is paused"))
        elif not paused_now and paused_cond:
            ds.set_condition(d["status"], ds.new_condition("Progressing", "Unknown", du.RESUMED,
                                                           "Deployment is resumed"))
        else:
            return
        await self.update_status(d)

    async def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        status = ds.calculate_status(all_rss, new_rs, d)
        if ds.clean_status(d.get("status")) == status:
            return
        d["status"] = status
        await self.update_status(d)
