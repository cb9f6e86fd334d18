"""Create-only APIs that store nothing: access reviews, SelfSubjectReview, TokenRequest.

- authorization.k8s.io/v1 SelfSubjectAccessReview, SubjectAccessReview,
  LocalSubjectAccessReview and SelfSubjectRulesReview ask the authorizer
  (k/k `pkg/registry/authorization/*/rest.go`); `kubectl auth can-i` is the
  first, `kubectl auth can-i --list` the last.
- authentication.k8s.io/v1 SelfSubjectReview answers who the caller is
  (`kubectl auth whoami`).
- serviceaccounts/token issues a signed, expiring token for a service account
  (k/k `pkg/registry/core/serviceaccount/storage/token.go`), optionally bound to a
  Pod, Secret or Node; the token is good until it expires or its service account
  or bound object goes.

Each answers 201 with the request object and its status filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hakube.apiserver import handlers, status, timefmt
from hakube.apiserver.auth import User
from hakube.apiserver.bodies import read_object
from hakube.apiserver.rbac import Attributes, RBACAuthorizer
from hakube.apiserver.registry import Registry
from hakube.apiserver.requestinfo import RequestInfo
from hakube.apiserver.resources import Resource
from hakube.apiserver.satoken import BoundRef, TokenSigner
from hakube.apiserver.strategy import Cause, Obj, cause

AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 1 << 32
DEFAULT_TOKEN_SECONDS = 3600


def _resource_attributes(user: User, attrs: Obj) -> Attributes:
    """authorizationutil.ResourceAttributesFrom."""
    return Attributes(user, str(attrs.get("verb") or ""), True, namespace=str(attrs.get("namespace") or ""),
                      group=str(attrs.get("group") or ""), version=str(attrs.get("version") or ""),
                      resource=str(attrs.get("resource") or ""), subresource=str(attrs.get("subresource") or ""),
                      name=str(attrs.get("name") or ""))


def _spec_causes(spec: Obj) -> list[Cause]:
    """validateSubjectAccessReviewSpec / ValidateSelfSubjectAccessReviewSpec (the attribute part)."""
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if res is not None and non is not None:
        return [cause("spec.nonResourceAttributes", "Invalid value: authorization.NonResourceAttributes{...}: "
                      "cannot be specified in combination with resourceAttributes")]
    if res is None and non is None:
        return [cause("spec.resourceAttributes", "Invalid value: (*authorization.NonResourceAttributes)(nil): "
                      "exactly one of nonResourceAttributes or resourceAttributes must be specified")]
    return []


def _attributes(user: User, spec: Obj) -> Attributes:
    res = spec.get("resourceAttributes")
    if isinstance(res, dict):
        return _resource_attributes(user, res)
    non = spec.get("nonResourceAttributes") or {}
    return Attributes(user, str(non.get("verb") or ""), False, path=str(non.get("path") or ""))


def _answer(body: Obj, status_body: Obj) -> web.Response:
    meta = body.get("metadata")
    body["metadata"] = meta if isinstance(meta, dict) else {}
    body["metadata"].setdefault("creationTimestamp", None)
    body["status"] = status_body
    return handlers.json_response(body, code=201)


@dataclass
class Reviews:
    """The handlers; `signer` is None when the server has no service account signing key."""

    authorizer: RBACAuthorizer
    registries: dict[tuple[str, str, str], Registry]
    signer: TokenSigner | None
    audiences: tuple[str, ...]

    async def handle(self, resource: Resource, info: RequestInfo, request: web.Request) -> web.Response:
        if request.method != "POST" or info.name:
            raise status.method_not_allowed(
                f"the server does not allow this method on the requested resource ({request.method} "
                f"{resource.plural})")
        body = (await read_object(request, resource)).obj
        user: User = request["user"]
        kind = resource.kind
        if kind == "SelfSubjectReview":
            info_body: Obj = {"username": user.name, "groups": list(user.groups)}
            if user.uid:
                info_body["uid"] = user.uid
            if user.extra:
                info_body["extra"] = {k: list(v) for k, v in user.extra}
            return _answer(body, {"userInfo": info_body})
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        if kind == "SelfSubjectRulesReview":
            return self._rules_review(body, spec, user)
        causes = _spec_causes(spec)
        group = AUTHZ
        if kind == "SubjectAccessReview" or kind == "LocalSubjectAccessReview":
            if not spec.get("user") and not spec.get("groups"):
                causes.append(cause("spec.user", 'Invalid value: "": at least one of user or group must be '
                                    "specified"))
            extra = tuple(sorted((str(k), tuple(str(x) for x in v)) for k, v in (spec.get("extra") or {}).items()
                                 if isinstance(v, list)))
            user = User(str(spec.get("user") or ""), str(spec.get("uid") or ""),
                        tuple(str(g) for g in spec.get("groups") or []), extra)
        if kind == "LocalSubjectAccessReview":
            res = spec.get("resourceAttributes")
            if spec.get("nonResourceAttributes") is not None:
                causes.append(cause("spec.nonResourceAttributes", "Invalid value: authorization."
                                    "NonResourceAttributes{...}: disallowed on this kind of request"))
            if isinstance(res, dict) and (res.get("namespace") or "") != (info.namespace or ""):
                causes.append(cause("spec.resourceAttributes.namespace",
                                    f'Invalid value: "{res.get("namespace") or ""}": must match metadata.namespace'))
        if causes:
            raise status.invalid(kind, group, "", causes)
        decision = self.authorizer.authorize(_attributes(user, spec))
        answer: Obj = {"allowed": decision.allowed}
        if decision.reason:
            answer["reason"] = decision.reason
        return _answer(body, answer)

    def _rules_review(self, body: Obj, spec: Obj, user: User) -> web.Response:
        namespace = spec.get("namespace")
        if not namespace:
            raise status.bad_request("no namespace on request")
        rules, errors = self.authorizer.index().rules_for(user, str(namespace))
        resource_rules: list[Obj] = []
        non_resource_rules: list[Obj] = []
        for r in rules:
            if r.get("resources"):
                entry: Obj = {"verbs": list(r.get("verbs") or []), "apiGroups": list(r.get("apiGroups") or []),
                              "resources": list(r["resources"])}
                if r.get("resourceNames"):
                    entry["resourceNames"] = list(r["resourceNames"])
                resource_rules.append(entry)
            if r.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": list(r.get("verbs") or []),
                                           "nonResourceURLs": list(r["nonResourceURLs"])})
        answer: Obj = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                       "incomplete": False}
        if errors:
            answer["evaluationError"] = ", ".join(errors)
        return _answer(body, answer)

    # -- serviceaccounts/token ----------------------------------------------------------------

    async def token(self, reg: Registry, info: RequestInfo, request: web.Request) -> web.Response:
        if self.signer is None:
            raise status.StatusError(404, "NotFound", "the server could not find the requested resource",
                                     details={})
        if request.method != "POST":
            raise status.method_not_allowed(
                f"the server does not allow this method on the requested resource ({request.method} "
                "serviceaccounts/token)")
        body = (await read_object(request, reg.resource, kind="TokenRequest",
                                  api_version=f"{AUTHN}/v1")).obj
        namespace, name = info.namespace or "", info.name
        sa = await reg.get(namespace, name)  # 404 `serviceaccounts "x" not found`
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        body["spec"] = spec
        seconds = spec.get("expirationSeconds")
        if seconds is None:
            seconds = spec["expirationSeconds"] = DEFAULT_TOKEN_SECONDS
        causes: list[Cause] = []
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            causes.append(cause("spec.expirationSeconds", f"Invalid value: {seconds!r}: must be an integer"))
        elif seconds < MIN_TOKEN_SECONDS:
            causes.append(cause("spec.expirationSeconds", f"Invalid value: {seconds}: may not specify a duration "
                                "less than 10 minutes"))
        elif seconds > MAX_TOKEN_SECONDS:
            causes.append(cause("spec.expirationSeconds", f"Invalid value: {seconds}: may not specify a duration "
                                "larger than 2^32 seconds"))
        if causes:
            raise status.invalid("TokenRequest", AUTHN, name, causes)
        audiences = [str(a) for a in spec.get("audiences") or []] or list(self.audiences)
        spec["audiences"] = audiences
        bound = await self._bound(spec.get("boundObjectRef"), namespace, name)
        token, expires = self.signer.sign(namespace=namespace, name=name, uid=sa["metadata"]["uid"],
                                          audiences=audiences, expiration_seconds=seconds, bound=bound)
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        body["metadata"] = {**meta, "name": name, "namespace": namespace,
                            "creationTimestamp": timefmt.now_time()}
        body["status"] = {"token": token,
                          "expirationTimestamp": timefmt.format_time(datetime.fromtimestamp(expires, UTC))}
        return handlers.json_response(body, code=201)

    async def _bound(self, ref: Any, namespace: str, sa_name: str) -> BoundRef | None:
        if not ref:
            return None
        if not isinstance(ref, dict):
            raise status.bad_request("spec.boundObjectRef must be an object")
        kind, name, uid = str(ref.get("kind") or ""), str(ref.get("name") or ""), str(ref.get("uid") or "")
        where = {"Pod": ("", "v1", "pods"), "Secret": ("", "v1", "secrets"), "Node": ("", "v1", "nodes")}.get(kind)
        if where is None:
            raise status.bad_request(f'cannot bind token for serviceaccount "{sa_name}" to object of kind '
                                     f'"{ref.get("apiVersion") or ""}, Kind={kind}"')
        reg = self.registries[where]
        obj = await reg.get(namespace if reg.resource.namespaced else None, name)
        actual = obj["metadata"]["uid"]
        if uid and uid != actual:
            raise status.conflict(kind, "", name, f"the UID in the bound object reference ({uid}) does not match "
                                  "the UID in record. The object might have been deleted and then recreated")
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName", "default") != sa_name:
            raise status.bad_request(f'cannot bind token for serviceaccount "{sa_name}" to pod running with '
                                     "different serviceaccount name.")
        return BoundRef(kind, name, actual)
