"""One CRUD/list/watch/patch smoke test, run through four real Python Kubernetes clients.

Each client gets a small adapter with the same operations; the smoke test asserts
the same outcomes through all of them: create, get, list by label, merge patch,
replace, a watch resumed from a resourceVersion (it must replay the change made
after it), and delete answering NotFound afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio

from hakube.testing import LocalStack


class NotFound(Exception):
    pass


class Adapter(Protocol):
    async def create(self, ns: str, name: str, data: dict[str, str], labels: dict[str, str]) -> str: ...
    async def get(self, ns: str, name: str) -> dict[str, str]: ...
    async def names(self, ns: str, selector: dict[str, str]) -> list[str]: ...
    async def merge_patch(self, ns: str, name: str, data: dict[str, Any]) -> None: ...
    async def replace(self, ns: str, name: str, data: dict[str, str]) -> None: ...
    async def first_event(self, ns: str, selector: dict[str, str], since: str) -> tuple[str, str, dict[str, str]]: ...
    async def delete(self, ns: str, name: str) -> None: ...
    async def create_namespace(self, ns: str) -> None: ...


# -- kubernetes (sync, run in a thread) ----------------------------------------------------


class Kubernetes:
    def __init__(self, kubeconfig: Path) -> None:
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.rest import ApiException

        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ApiException as e:
            if e.status == 404:
                raise NotFound from e
            raise

    async def create_namespace(self, ns: str) -> None:
        await self._call(self.core.create_namespace, {"metadata": {"name": ns}})

    async def create(self, ns: str, name: str, data: dict[str, str], labels: dict[str, str]) -> str:
        body = {"metadata": {"name": name, "labels": labels}, "data": data}
        obj = await self._call(self.core.create_namespaced_config_map, ns, body)
        return str(obj.metadata.resource_version)

    async def get(self, ns: str, name: str) -> dict[str, str]:
        return dict((await self._call(self.core.read_namespaced_config_map, name, ns)).data or {})

    async def names(self, ns: str, selector: dict[str, str]) -> list[str]:
        sel = ",".join(f"{k}={v}" for k, v in selector.items())
        lst = await self._call(self.core.list_namespaced_config_map, ns, label_selector=sel)
        return [i.metadata.name for i in lst.items]

    async def merge_patch(self, ns: str, name: str, data: dict[str, Any]) -> None:
        # A dict body goes as a strategic merge patch, which for a map is a merge patch.
        await self._call(self.core.patch_namespaced_config_map, name, ns, {"data": data})

    async def replace(self, ns: str, name: str, data: dict[str, str]) -> None:
        obj = await self._call(self.core.read_namespaced_config_map, name, ns)
        obj.data = data
        await self._call(self.core.replace_namespaced_config_map, name, ns, obj)

    async def first_event(self, ns: str, selector: dict[str, str], since: str) -> tuple[str, str, dict[str, str]]:
        from kubernetes import watch

        def run() -> tuple[str, str, dict[str, str]]:
            w = watch.Watch()
            sel = ",".join(f"{k}={v}" for k, v in selector.items())
            for ev in w.stream(self.core.list_namespaced_config_map, ns, label_selector=sel,
                               resource_version=since, timeout_seconds=10):
                w.stop()
                return ev["type"], ev["object"].metadata.name, dict(ev["object"].data or {})
            raise AssertionError("no watch event")

        return await asyncio.to_thread(run)

    async def delete(self, ns: str, name: str) -> None:
        await self._call(self.core.delete_namespaced_config_map, name, ns)

    async def close(self) -> None:
        self.api.close()


# -- kubernetes_asyncio ---------------------------------------------------------------------


class KubernetesAsyncio:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    async def open(self) -> None:
        from kubernetes_asyncio import client, config

        cfg = client.Configuration()
        await config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)

    async def _call(self, coro: Any) -> Any:
        from kubernetes_asyncio.client.rest import ApiException

        try:
            return await coro
        except ApiException as e:
            if e.status == 404:
                raise NotFound from e
            raise

    async def create_namespace(self, ns: str) -> None:
        await self._call(self.core.create_namespace({"metadata": {"name": ns}}))

    async def create(self, ns: str, name: str, data: dict[str, str], labels: dict[str, str]) -> str:
        obj = await self._call(self.core.create_namespaced_config_map(
            ns, {"metadata": {"name": name, "labels": labels}, "data": data}))
        return str(obj.metadata.resource_version)

    async def get(self, ns: str, name: str) -> dict[str, str]:
        return dict((await self._call(self.core.read_namespaced_config_map(name, ns))).data or {})

    async def names(self, ns: str, selector: dict[str, str]) -> list[str]:
        sel = ",".join(f"{k}={v}" for k, v in selector.items())
        lst = await self._call(self.core.list_namespaced_config_map(ns, label_selector=sel))
        return [i.metadata.name for i in lst.items]

    async def merge_patch(self, ns: str, name: str, data: dict[str, Any]) -> None:
        await self._call(self.core.patch_namespaced_config_map(name, ns, {"data": data}))

    async def replace(self, ns: str, name: str, data: dict[str, str]) -> None:
        obj = await self._call(self.core.read_namespaced_config_map(name, ns))
        obj.data = data
        await self._call(self.core.replace_namespaced_config_map(name, ns, obj))

    async def first_event(self, ns: str, selector: dict[str, str], since: str) -> tuple[str, str, dict[str, str]]:
        from kubernetes_asyncio import watch

        w = watch.Watch()
        sel = ",".join(f"{k}={v}" for k, v in selector.items())
        async for ev in w.stream(self.core.list_namespaced_config_map, ns, label_selector=sel,
                                 resource_version=since, timeout_seconds=10):
            w.stop()
            return ev["type"], ev["object"].metadata.name, dict(ev["object"].data or {})
        raise AssertionError("no watch event")

    async def delete(self, ns: str, name: str) -> None:
        await self._call(self.core.delete_namespaced_config_map(name, ns))

    async def close(self) -> None:
        await self.api.close()


# -- lightkube (async client) ------------------------------------------------------------------


class Lightkube:
    def __init__(self, kubeconfig: Path) -> None:
        from lightkube import AsyncClient, KubeConfig

        self.client = AsyncClient(config=KubeConfig.from_file(str(kubeconfig)))

    async def _call(self, coro: Any) -> Any:
        from lightkube import ApiError

        try:
            return await coro
        except ApiError as e:
            if e.status.code == 404:
                raise NotFound from e
            raise

    async def create_namespace(self, ns: str) -> None:
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Namespace

        await self._call(self.client.create(Namespace(metadata=ObjectMeta(name=ns))))

    async def create(self, ns: str, name: str, data: dict[str, str], labels: dict[str, str]) -> str:
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import ConfigMap

        obj = await self._call(self.client.create(
            ConfigMap(metadata=ObjectMeta(name=name, namespace=ns, labels=labels), data=data)))
        return str(obj.metadata.resourceVersion)

    async def get(self, ns: str, name: str) -> dict[str, str]:
        from lightkube.resources.core_v1 import ConfigMap

        return dict((await self._call(self.client.get(ConfigMap, name, namespace=ns))).data or {})

    async def names(self, ns: str, selector: dict[str, str]) -> list[str]:
        from lightkube.resources.core_v1 import ConfigMap

        return [obj.metadata.name async for obj in self.client.list(ConfigMap, namespace=ns, labels=selector)]

    async def merge_patch(self, ns: str, name: str, data: dict[str, Any]) -> None:
        from lightkube.resources.core_v1 import ConfigMap
        from lightkube.types import PatchType

        await self._call(self.client.patch(ConfigMap, name, {"data": data}, namespace=ns,
                                           patch_type=PatchType.MERGE))

    async def replace(self, ns: str, name: str, data: dict[str, str]) -> None:
        from lightkube.resources.core_v1 import ConfigMap

        obj = await self._call(self.client.get(ConfigMap, name, namespace=ns))
        obj.data = data
        await self._call(self.client.replace(obj))

    async def first_event(self, ns: str, selector: dict[str, str], since: str) -> tuple[str, str, dict[str, str]]:
        from lightkube.resources.core_v1 import ConfigMap

        async for op, obj in self.client.watch(ConfigMap, namespace=ns, labels=selector, resource_version=since):
            return op, obj.metadata.name, dict(obj.data or {})
        raise AssertionError("no watch event")

    async def delete(self, ns: str, name: str) -> None:
        from lightkube.resources.core_v1 import ConfigMap

        await self._call(self.client.delete(ConfigMap, name, namespace=ns))

    async def close(self) -> None:
        await self.client.close()


# -- kr8s (asyncio API) -----------------------------------------------------------------------------


class Kr8s:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    async def open(self) -> None:
        import kr8s.asyncio

        self.api = await kr8s.asyncio.api(kubeconfig=str(self.kubeconfig))

    async def _get(self, ns: str, name: str) -> Any:
        from kr8s.asyncio.objects import ConfigMap

        try:
            return await ConfigMap.get(name, namespace=ns, api=self.api)
        except Exception as e:
            if "NotFound" in type(e).__name__ or "not found" in str(e).lower():
                raise NotFound from e
            raise

    async def create_namespace(self, ns: str) -> None:
        from kr8s.asyncio.objects import Namespace

        await (await Namespace({"metadata": {"name": ns}}, api=self.api)).create()

    async def create(self, ns: str, name: str, data: dict[str, str], labels: dict[str, str]) -> str:
        from kr8s.asyncio.objects import ConfigMap

        cm = await ConfigMap({"metadata": {"name": name, "namespace": ns, "labels": labels}, "data": data},
                             api=self.api)
        await cm.create()
        return str(cm.metadata.resourceVersion)

    async def get(self, ns: str, name: str) -> dict[str, str]:
        return dict((await self._get(ns, name)).raw.get("data") or {})

    async def names(self, ns: str, selector: dict[str, str]) -> list[str]:
        return [o.name async for o in self.api.get("configmaps", namespace=ns, label_selector=selector)]

    async def merge_patch(self, ns: str, name: str, data: dict[str, Any]) -> None:
        await (await self._get(ns, name)).patch({"data": data}, type="merge")

    async def replace(self, ns: str, name: str, data: dict[str, str]) -> None:
        # kr8s has no PUT helper on objects: call the API as its objects do.
        cm = await self._get(ns, name)
        body = dict(cm.raw)
        body["data"] = data
        async with self.api.call_api("PUT", version="v1", url=f"configmaps/{name}", namespace=ns,
                                     json=body) as resp:
            assert resp.status_code == 200

    async def first_event(self, ns: str, selector: dict[str, str], since: str) -> tuple[str, str, dict[str, str]]:
        async for op, obj in self.api.watch("configmaps", namespace=ns, label_selector=selector, since=since):
            return op, obj.name, dict(obj.raw.get("data") or {})
        raise AssertionError("no watch event")

    async def delete(self, ns: str, name: str) -> None:
        await (await self._get(ns, name)).delete()

    async def close(self) -> None:
        return None


CLIENTS = {"kubernetes": Kubernetes, "kubernetes_asyncio": KubernetesAsyncio, "lightkube": Lightkube,
           "kr8s": Kr8s}


@pytest_asyncio.fixture(loop_scope="session")
async def adapter(request: pytest.FixtureRequest, stack: LocalStack) -> AsyncIterator[Any]:
    pytest.importorskip(request.param)
    made = CLIENTS[request.param](stack.kubeconfig(0))
    if hasattr(made, "open"):
        await made.open()
    yield made
    await made.close()


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("adapter", list(CLIENTS), indirect=True)
async def test_crud_list_watch_patch(adapter: Any) -> None:
    ns = f"clients-{uuid.uuid4().hex[:8]}"
    await adapter.create_namespace(ns)
    labels = {"smoke": "yes"}
    rv = await adapter.create(ns, "one", {"a": "1"}, labels)
    await adapter.create(ns, "two", {"b": "2"}, {"smoke": "no"})
    assert await adapter.get(ns, "one") == {"a": "1"}
    assert await adapter.names(ns, labels) == ["one"]

    await adapter.merge_patch(ns, "one", {"a": None, "c": "3"})
    assert await adapter.get(ns, "one") == {"c": "3"}
    # A watch from the create's resourceVersion replays the patch that came after it.
    op, name, data = await asyncio.wait_for(adapter.first_event(ns, labels, rv), 15)
    assert (op, name, data) == ("MODIFIED", "one", {"c": "3"})

    await adapter.replace(ns, "one", {"d": "4"})
    assert await adapter.get(ns, "one") == {"d": "4"}

    await adapter.delete(ns, "one")
    with pytest.raises(NotFound):
        await adapter.get(ns, "one")
    assert await adapter.names(ns, labels) == []
