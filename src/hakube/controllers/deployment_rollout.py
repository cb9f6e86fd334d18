"""The two Deployment strategies and the progress check.

RollingUpdate (k/k `pkg/controller/deployment/rolling.go`): grow the new
ReplicaSet while the total stays within replicas + maxSurge, shrink old ones
while the available pods stay at or above replicas - maxUnavailable.
Recreate (`recreate.go`): scale every old ReplicaSet to zero, wait until
their pods are gone, then scale the new one up. A change of spec.replicas
mid-rollout is spread over the ReplicaSets in proportion (`sync.go` scale),
old ReplicaSets beyond revisionHistoryLimit are deleted (cleanupDeployment),
and after each step the status and the Progressing condition are brought up
to date (`progress.go`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hakube.client.api import REPLICASETS, ApiError, Obj
from hakube.client.informer import key_of
from hakube.controllers import deployment_status as ds
from hakube.controllers import deployment_util as du
from hakube.controllers.objects import is_deleting, parse_time, uid_of

if TYPE_CHECKING:
    from hakube.controllers.deployment import DeploymentController

log = logging.getLogger(__name__)

# -- RollingUpdate ----------------------------------------------------------------------------------


async def rollout_rolling(dc: DeploymentController, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old = await dc.all_replicasets(d, rs_list, create=True)
    assert new_rs is not None, "created when missing"
    all_rss: list[Obj | None] = [*old, new_rs]
    scaled_up, new_rs = await reconcile_new_rs(dc, all_rss, new_rs, d)
    all_rss = [*old, new_rs]
    if scaled_up:
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if await reconcile_old_rss(dc, all_rss, du.active(old), new_rs, d):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if ds.deployment_complete(d, d["status"]):
        await cleanup(dc, old, d)
    await sync_rollout_status(dc, all_rss, new_rs, d)


async def reconcile_new_rs(dc: DeploymentController, all_rss: list[Obj | None], new_rs: Obj,
                           d: Obj) -> tuple[bool, Obj]:
    if du.replicas(new_rs) == du.replicas(d):
        return False, new_rs
    if du.replicas(new_rs) > du.replicas(d):
        return await dc.scale_rs_and_record(new_rs, du.replicas(d), d)
    return await dc.scale_rs_and_record(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d)


async def reconcile_old_rss(dc: DeploymentController, all_rss: list[Obj | None], old: list[Obj], new_rs: Obj,
                            d: Obj) -> bool:
    """Scale old ReplicaSets down as far as availability allows.

    maxScaledDown = allPods - minAvailable - newRSUnavailable: pods of the new
    ReplicaSet that are not available yet must not let us take old ones away
    (rolling.go reconcileOldReplicaSets, with its worked examples).
    """
    if du.total_replicas(old) == 0:
        return False
    min_available = du.replicas(d) - du.max_unavailable(d)
    new_unavailable = du.replicas(new_rs) - du.status_int(new_rs, "availableReplicas")
    max_scaled_down = du.total_replicas(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    old, cleaned = await cleanup_unhealthy_replicas(dc, old, d, max_scaled_down)
    scaled = await scale_down_old_for_rolling_update(dc, [*old, new_rs], old, d)
    return cleaned + scaled > 0


async def cleanup_unhealthy_replicas(dc: DeploymentController, old: list[Obj], d: Obj,
                                     max_cleanup: int) -> tuple[list[Obj], int]:
    """Scale away old pods that are not available first: that costs no availability."""
    old = sorted(old, key=du.by_creation)
    total = 0
    for i, rs in enumerate(old):
        if total >= max_cleanup:
            break
        unhealthy = du.replicas(rs) - du.status_int(rs, "availableReplicas")
        if du.replicas(rs) == 0 or unhealthy <= 0:
            continue
        count = min(max_cleanup - total, unhealthy)
        _, old[i] = await dc.scale_rs_and_record(rs, du.replicas(rs) - count, d)
        total += count
    return old, total


async def scale_down_old_for_rolling_update(dc: DeploymentController, all_rss: list[Obj | None], old: list[Obj],
                                            d: Obj) -> int:
    min_available = du.replicas(d) - du.max_unavailable(d)
    # A ReplicaSet just scaled down still reports the pods it is about to delete as available
    # (its status catches up a moment later); counting more than spec.replicas of them could
    # scale down twice for one set of available pods, below minAvailable. Upstream sums
    # status.availableReplicas as is; capping changes nothing once the status is fresh.
    available = sum(min(du.status_int(rs, "availableReplicas"), du.replicas(rs)) for rs in du.present(all_rss))
    if available <= min_available:
        return 0
    budget = available - min_available
    total = 0
    for rs in sorted(old, key=du.by_creation):
        if total >= budget:
            break
        if du.replicas(rs) == 0:
            continue
        count = min(du.replicas(rs), budget - total)
        await dc.scale_rs_and_record(rs, du.replicas(rs) - count, d)
        total += count
    return total


# -- Recreate -------------------------------------------------------------------------------------------


async def rollout_recreate(dc: DeploymentController, d: Obj, rs_list: list[Obj],
                           pod_map: dict[str, list[Obj]]) -> None:
    # The new ReplicaSet is not created before the old pods are gone: never both at once.
    new_rs, old = await dc.all_replicasets(d, rs_list, create=False)
    all_rss: list[Obj | None] = [*old, new_rs]
    scaled_down = False
    for rs in du.active(old):
        scaled, updated = await dc.scale_rs_and_record(rs, 0, d)
        du.replace_in(old, updated)
        scaled_down = scaled_down or scaled
    if scaled_down:
        await sync_rollout_status(dc, [*old, new_rs], new_rs, d)
        return
    if old_pods_running(new_rs, old, pod_map):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if new_rs is None:
        new_rs, old = await dc.all_replicasets(d, rs_list, create=True)
    assert new_rs is not None, "created when missing"
    _, new_rs = await dc.scale_rs_and_record(new_rs, du.replicas(d), d)
    if ds.deployment_complete(d, d["status"]):
        await cleanup(dc, old, d)
    await sync_rollout_status(dc, [*old, new_rs], new_rs, d)


def old_pods_running(new_rs: Obj | None, old: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    if du.total_status(old, "replicas") > 0:
        return True
    for rs_uid, pods in pod_map.items():
        if new_rs is not None and rs_uid == uid_of(new_rs):
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


# -- scaling events and history ---------------------------------------------------------------------


async def scale(dc: DeploymentController, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
    """Proportional scaling: spread a change of spec.replicas over the active ReplicaSets."""
    target = du.find_active_or_latest(new_rs, old)
    if target is not None:
        if du.replicas(target) != du.replicas(d):
            await dc.scale_rs_and_record(target, du.replicas(d), d)
        return
    if du.is_saturated(d, new_rs):
        for rs in du.active(old):
            await dc.scale_rs_and_record(rs, 0, d)
        return
    if not du.is_rolling_update(d):
        return
    live = du.active([*old, new_rs])
    allowed = du.replicas(d) + du.max_surge(d) if du.replicas(d) > 0 else 0
    to_add = allowed - du.total_replicas(live)
    operation = ""
    if to_add > 0:
        live, operation = du.sort_by_size_newer(live), "up"
    elif to_add < 0:
        live, operation = du.sort_by_size_older(live), "down"
    added = 0
    sizes: dict[str, int] = {}
    for rs in live:
        if to_add != 0:
            share = du.rs_proportion(rs, d, to_add, added)
            sizes[uid_of(rs)] = du.replicas(rs) + share
            added += share
        else:
            sizes[uid_of(rs)] = du.replicas(rs)
    for i, rs in enumerate(live):
        if i == 0 and to_add != 0:  # leftovers go to the largest
            sizes[uid_of(rs)] = max(0, sizes[uid_of(rs)] + to_add - added)
        await dc.scale_rs(rs, sizes[uid_of(rs)], d, operation)

async def cleanup(dc: DeploymentController, old: list[Obj], d: Obj) -> None:
    """cleanupDeployment: keep revisionHistoryLimit old ReplicaSets, delete older empty ones."""
    limit = du.revision_history_limit(d)
    if limit is None:
        return
    cleanable = [rs for rs in old if not is_deleting(rs)]
    diff = len(cleanable) - limit
    if diff <= 0:
        return
    for rs in du.sort_by_revision(cleanable)[:diff]:
        meta = rs["metadata"]
        if (du.status_int(rs, "replicas") != 0 or du.replicas(rs) != 0 or is_deleting(rs)
                or int(meta.get("generation") or 0) > du.status_int(rs, "observedGeneration")):
            continue
        log.info("%s/%s: removing old replica set %s", meta["namespace"], d["metadata"]["name"], meta["name"])
        try:
            await dc.ctx.client.delete(REPLICASETS, meta["name"], meta["namespace"],
                                         preconditions={"uid": meta["uid"]})
        except ApiError as err:
            if not (err.not_found or err.conflict):
                raise


# -- progress ---------------------------------------------------------------------------------------------


async def sync_rollout_status(dc: DeploymentController, all_rss: list[Obj | None], new_rs: Obj | None,
                              d: Obj) -> None:
    """syncRolloutStatus: counts, then Progressing — complete, progressing, or past its deadline."""
    status = ds.calculate_status(all_rss, new_rs, d)
    if not du.has_progress_deadline(d):
        ds.remove_condition(status, "Progressing")
    current = ds.get_condition(d["status"], "Progressing")
    complete = (int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
                and current is not None and current.get("reason") == du.NEW_RS_AVAILABLE)
    name = d["metadata"]["name"]
    subject = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None else f'Deployment "{name}"'
    if du.has_progress_deadline(d) and not complete:
        if ds.deployment_complete(d, status):
            ds.set_condition(status, ds.new_condition("Progressing", "True", du.NEW_RS_AVAILABLE,
                                                      f"{subject} has successfully progressed."))
        elif ds.deployment_progressing(d, status):
            cond = ds.new_condition("Progressing", "True", du.REPLICASET_UPDATED, f"{subject} is progressing.")
            if current is not None:
                # Progress moves lastUpdateTime even when the reason stays (progress.go).
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                ds.remove_condition(status, "Progressing")
            ds.set_condition(status, cond)
        elif ds.deployment_timed_out(d, status):
            ds.set_condition(status, ds.new_condition("Progressing", "False", du.TIMED_OUT,
                                                      f"{subject} has timed out progressing."))
    failures = replica_failures(all_rss, new_rs)
    if failures:
        ds.set_condition(status, failures[0])
    else:
        ds.remove_condition(status, "ReplicaFailure")
    status = ds.clean_status(status)
    if ds.clean_status(d["status"]) == status:
        requeue_stuck(dc, d, status)
        return
    d["status"] = status
    await dc.update_status(d)


def replica_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[Obj]:
    """ReplicaFailure conditions of the new ReplicaSet, else of any ReplicaSet."""
    for group in ([new_rs], all_rss):
        found = [ds.rs_condition_to_deployment(c) for rs in du.present(group)
                 for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == "ReplicaFailure"]
        if found:
            return found
    return []


def requeue_stuck(dc: DeploymentController, d: Obj, status: Obj) -> None:
    """Come back when the progress deadline would pass, to notice it (requeueStuckDeployment)."""
    current = ds.get_condition(d["status"], "Progressing")
    if not du.has_progress_deadline(d) or current is None:
        return
    if ds.deployment_complete(d, status) or current.get("reason") == du.TIMED_OUT:
        return
    since = parse_time(current.get("lastUpdateTime"))
    if since is None:
        return
    after = (since - datetime.now(UTC)).total_seconds() + int(d["spec"]["progressDeadlineSeconds"])
    if after < 1:
        dc.queue.add_rate_limited(key_of(d))
    else:
        dc.queue.add_after(key_of(d), after + 1)
