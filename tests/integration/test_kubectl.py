"""The real kubectl against a real API server on etcd: the commands people type every day.

Every test works in the module's own namespace (created with `kubectl create -f`),
so tests do not see each other's objects. Namespaces are left behind on purpose:
without a namespace controller they cannot finish terminating.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hakube.testing import Kubectl

# -- helpers ------------------------------------------------------------------------


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _create_namespace(kubectl: Kubectl, name: str) -> None:
    # `kubectl create namespace` sends protobuf; `create -f` sends JSON.
    manifest = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    out = kubectl.run("create", "-f", "-", input=manifest).stdout
    assert out.strip() == f"namespace/{name} created"


@pytest.fixture(scope="module")
def ns(kubectl: Kubectl) -> str:
    name = _unique("kubectl")
    _create_namespace(kubectl, name)
    return name


def _configmap(name: str, *, data: dict[str, str] | None = None, labels: dict[str, str] | None = None,
               finalizers: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"key": "value"}}


def _deployment(name: str, *, web_image: str = "nginx:1.27", sidecar_image: str = "busybox:1",
                replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [
                    {"name": "web", "image": web_image,
                     "ports": [{"containerPort": 8080, "name": "http"}],
                     "env": [{"name": "MODE", "value": "test"}]},
                    {"name": "sidecar", "image": sidecar_image, "command": ["sleep", "3600"]},
                ]},
            },
        },
    }


def _pod(name: str, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1", "command": ["sleep", "3600"]}]},
    }


def _write(tmp_path: Path, obj: dict[str, Any]) -> str:
    path = tmp_path / f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(obj))
    return str(path)


def _apply(kubectl: Kubectl, ns: str, obj: dict[str, Any]) -> str:
    return kubectl.run("-n", ns, "apply", "-f", "-", input=json.dumps(obj)).stdout.strip()


def _columns(header: str) -> list[tuple[str, int]]:
    """Titles and start offsets; a title may hold one space (NOMINATED NODE), never two."""
    return [(m.group(0), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]


def _header(output: str) -> list[str]:
    return [title for title, _ in _columns(output.splitlines()[0])]


def _rows(output: str) -> list[list[str]]:
    """Cells cut at the header's offsets: kubectl pads every column to its widest cell,
    so an empty cell (a resource without short names) stays in its place."""
    lines = output.splitlines()
    starts = [start for _, start in _columns(lines[0])]
    ends = [*starts[1:], None]
    return [[line[a:b].strip() for a, b in zip(starts, ends, strict=True)] for line in lines[1:] if line.strip()]


def _row(output: str, name: str, *, column: int = 0) -> dict[str, str]:
    header = _header(output)
    for cells in _rows(output):
        if cells[column] == name:
            return dict(zip(header, cells, strict=True))
    raise AssertionError(f"no row {name!r} in:\n{output}")


def _gone(kubectl: Kubectl, ns: str, kind: str, name: str) -> bool:
    proc = kubectl.run("-n", ns, "get", kind, name, check=False)
    if proc.returncode == 0:
        return False
    assert "NotFound" in proc.stderr and "not found" in proc.stderr, proc.stderr
    return True


# -- get ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def objects(kubectl: Kubectl, ns: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A Deployment with two containers, a Pod and a ConfigMap, made with `create -f`."""
    tmp = tmp_path_factory.mktemp("objects")
    names = {"deployment": _unique("dep"), "pod": _unique("pod"), "configmap": _unique("cm")}
    dep = _deployment(names["deployment"], replicas=2)
    out = kubectl.run("-n", ns, "create", "-f", _write(tmp, dep)).stdout
    assert out.strip() == f"deployment.apps/{names['deployment']} created"
    out = kubectl.run("-n", ns, "create", "-f", _write(tmp, _pod(names["pod"]))).stdout
    assert out.strip() == f"pod/{names['pod']} created"
    cm = _configmap(names["configmap"], data={"a": "1", "b": "2", "c": "3"}, labels={"tier": "frontend"})
    out = kubectl.run("-n", ns, "create", "-f", _write(tmp, cm)).stdout
    assert out.strip() == f"configmap/{names['configmap']} created"
    return names


def test_create_f_stores_what_was_sent(kubectl: Kubectl, ns: str, objects: dict[str, str]) -> None:
    dep = kubectl.json("-n", ns, "get", "deployment", objects["deployment"])
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:1.27"), ("sidecar", "busybox:1")]
    assert containers[0]["ports"][0]["containerPort"] == 8080
    assert dep["metadata"]["generation"] == 1
    assert dep["metadata"]["uid"]
    pod = kubectl.json("-n", ns, "get", "pod", objects["pod"])
    assert pod["spec"]["containers"][0]["command"] == ["sleep", "3600"]
    assert pod["metadata"]["namespace"] == ns

    again = kubectl.run("-n", ns, "create", "-f", "-", check=False,
                        input=json.dumps(_pod(objects["pod"])))
    assert again.returncode != 0
    assert "AlreadyExists" in again.stderr and "already exists" in again.stderr


def test_get_table_headers(kubectl: Kubectl, ns: str, objects: dict[str, str]) -> None:
    pods = kubectl.run("-n", ns, "get", "pods").stdout
    assert _header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    row = _row(pods, objects["pod"])
    assert row["READY"] == "0/1"
    assert row["RESTARTS"] == "0"

    deps = kubectl.run("-n", ns, "get", "deployments").stdout
    assert _header(deps) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert _row(deps, objects["deployment"])["READY"] == "0/2"

    cms = kubectl.run("-n", ns, "get", "configmaps").stdout
    assert _header(cms) == ["NAME", "DATA", "AGE"]
    assert _row(cms, objects["configmap"])["DATA"] == "3"

    nss = kubectl.run("get", "namespaces").stdout
    assert _header(nss) == ["NAME", "STATUS", "AGE"]
    assert _row(nss, ns)["STATUS"] == "Active"
    assert _row(nss, "default")["STATUS"] == "Active"

    # A single object by name prints the same table; short names work.
    one = kubectl.run("-n", ns, "get", "deploy", objects["deployment"]).stdout
    assert _header(one) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [r[0] for r in _rows(one)] == [objects["deployment"]]


def test_get_wide(kubectl: Kubectl, ns: str, objects: dict[str, str]) -> None:
    pods = kubectl.run("-n", ns, "get", "pods", "-o", "wide").stdout
    assert _header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                             "NOMINATED NODE", "READINESS GATES"]
    row = _row(pods, objects["pod"])
    assert row["NODE"] == "<none>"

    deps = kubectl.run("-n", ns, "get", "deployments", "-o", "wide").stdout
    assert _header(deps) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                             "SELECTOR"]
    row = _row(deps, objects["deployment"])
    assert row["CONTAINERS"] == "web,sidecar"
    assert row["IMAGES"] == "nginx:1.27,busybox:1"
    assert row["SELECTOR"] == f"app={objects['deployment']}"


def test_get_yaml_json_name_jsonpath(kubectl: Kubectl, ns: str, objects: dict[str, str]) -> None:
    name = objects["configmap"]
    as_yaml = yaml.safe_load(kubectl.run("-n", ns, "get", "configmap", name, "-o", "yaml").stdout)
    assert as_yaml["kind"] == "ConfigMap" and as_yaml["apiVersion"] == "v1"
    assert as_yaml["metadata"]["name"] == name
    assert as_yaml["data"] == {"a": "1", "b": "2", "c": "3"}
    assert as_yaml["metadata"]["labels"] == {"tier": "frontend"}

    as_json = kubectl.json("-n", ns, "get", "configmap", name)
    assert as_json["metadata"]["uid"] == as_yaml["metadata"]["uid"]
    assert as_json["metadata"]["resourceVersion"] == as_yaml["metadata"]["resourceVersion"]
    assert as_json["data"] == as_yaml["data"]

    # A list as JSON is a v1 List with items carrying their kind.
    listed = kubectl.json("-n", ns, "get", "configmaps")
    assert listed["kind"] == "List"
    assert {i["metadata"]["name"] for i in listed["items"]} >= {name}
    assert all(i["kind"] == "ConfigMap" for i in listed["items"])

    names = kubectl.run("-n", ns, "get", "configmap,deployment,pod", "-o", "name").stdout.split()
    assert f"configmap/{name}" in names
    assert f"deployment.apps/{objects['deployment']}" in names
    assert f"pod/{objects['pod']}" in names

    value = kubectl.run("-n", ns, "get", "configmap", name, "-o", "jsonpath={.data.b}").stdout
    assert value == "2"
    images = kubectl.run("-n", ns, "get", "deployment", objects["deployment"], "-o",
                         "jsonpath={.spec.template.spec.containers[*].image}").stdout
    assert images == "nginx:1.27 busybox:1"


def test_get_all_namespaces(kubectl: Kubectl, ns: str) -> None:
    other = _unique("kubectl-other")
    _create_namespace(kubectl, other)
    here, there = _unique("here"), _unique("there")
    _apply(kubectl, ns, _configmap(here))
    _apply(kubectl, other, _configmap(there))

    local = kubectl.run("-n", ns, "get", "configmaps", "-o", "name").stdout.split()
    assert f"configmap/{here}" in local and f"configmap/{there}" not in local

    everywhere = kubectl.run("get", "configmaps", "-A").stdout
    assert _header(everywhere) == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert _row(everywhere, here, column=1)["NAMESPACE"] == ns
    assert _row(everywhere, there, column=1)["NAMESPACE"] == other


def test_get_label_selector(kubectl: Kubectl, ns: str) -> None:
    group = _unique("sel")
    for name, tier in (("front", "frontend"), ("back", "backend"), ("plain", None)):
        labels = {"group": group, **({"tier": tier} if tier else {})}
        _apply(kubectl, ns, _configmap(f"{group}-{name}", labels=labels))

    def names(selector: str) -> set[str]:
        out = kubectl.run("-n", ns, "get", "configmaps", "-l", selector, "-o", "name").stdout
        return {line.removeprefix("configmap/").removeprefix(f"{group}-") for line in out.split()}

    assert names(f"group={group}") == {"front", "back", "plain"}
    assert names(f"group={group},tier=frontend") == {"front"}
    assert names(f"group={group},tier!=frontend") == {"back", "plain"}
    assert names(f"group={group},tier in (frontend,backend)") == {"front", "back"}
    assert names(f"group={group},!tier") == {"plain"}
    assert names(f"group={group},tier") == {"front", "back"}
    empty = kubectl.run("-n", ns, "get", "configmaps", "-l", f"group={group},tier=none")
    assert empty.stdout == ""
    assert "No resources found" in empty.stderr


def test_get_field_selector(kubectl: Kubectl, ns: str) -> None:
    first, second = _unique("field"), _unique("field")
    _apply(kubectl, ns, _configmap(first))
    _apply(kubectl, ns, _configmap(second))
    out = kubectl.run("-n", ns, "get", "configmaps", "--field-selector", f"metadata.name={first}",
                      "-o", "name").stdout
    assert out.split() == [f"configmap/{first}"]
    out = kubectl.run("-n", ns, "get", "configmaps", "--field-selector", f"metadata.name!={first}",
                      "-o", "name").stdout.split()
    assert f"configmap/{second}" in out and f"configmap/{first}" not in out
    bad = kubectl.run("-n", ns, "get", "configmaps", "--field-selector", "data.key=value", check=False)
    assert bad.returncode != 0
    assert "field label not supported" in bad.stderr


def test_get_chunk_size(kubectl: Kubectl, ns: str) -> None:
    group = _unique("chunk")
    names = {f"{group}-{i}" for i in range(7)}
    for name in names:
        _apply(kubectl, ns, _configmap(name, labels={"group": group}))

    proc = kubectl.run("-n", ns, "get", "configmaps", "-l", f"group={group}", "--chunk-size=2",
                       "-o", "name", "-v=6")
    assert {line.removeprefix("configmap/") for line in proc.stdout.split()} == names
    # 7 objects in pages of 2: four GETs with limit=2, three of them continuing.
    pages = [line for line in proc.stderr.splitlines() if "GET" in line and "limit=2" in line]
    assert len(pages) == 4, proc.stderr
    assert sum("continue=" in line for line in pages) == 3, proc.stderr

    table = kubectl.run("-n", ns, "get", "configmaps", "-l", f"group={group}", "--chunk-size=2").stdout
    assert _header(table) == ["NAME", "DATA", "AGE"]
    assert {cells[0] for cells in _rows(table)} == names


# -- watch ------------------------------------------------------------------------------


class _Lines:
    """Lines of a running process's stdout, read on a thread so waits can be bounded."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate: Any, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; saw {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if predicate(line):
                return line


@pytest.fixture
def watch(kubectl: Kubectl) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> _Lines:
        proc = subprocess.Popen([kubectl.binary, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=kubectl.env)
        procs.append(proc)
        return _Lines(proc)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_get_watch(kubectl: Kubectl, ns: str, watch: Any) -> None:
    group = _unique("watch")
    sentinel, target = f"{group}-sentinel", f"{group}-target"
    _apply(kubectl, ns, _configmap(sentinel, labels={"group": group}))
    selector = f"group={group}"
    table = watch("-n", ns, "get", "configmaps", "-l", selector, "-w", "--output-watch-events")
    events = watch("-n", ns, "get", "configmaps", "-l", selector, "-w", "--output-watch-events",
                   "-o", 'jsonpath={.type} {.object.metadata.name} {.object.data.key}{"\\n"}')
    # The sentinel shows up from the initial list: from here on, every change is streamed.
    header = table.wait_for(lambda line: line.startswith("EVENT"))
    assert _header(header) == ["EVENT", "NAME", "DATA", "AGE"]
    table.wait_for(lambda line: line.split()[:2] == ["ADDED", sentinel])
    events.wait_for(lambda line: line.split()[:2] == ["ADDED", sentinel])

    _apply(kubectl, ns, _configmap(target, labels={"group": group}, data={"key": "one"}))
    kubectl.run("-n", ns, "patch", "configmap", target, "-p", '{"data":{"key":"two"}}')
    kubectl.run("-n", ns, "delete", "configmap", target)

    assert events.wait_for(lambda line: target in line) == f"ADDED {target} one"
    assert events.wait_for(lambda line: target in line) == f"MODIFIED {target} two"
    assert events.wait_for(lambda line: target in line) == f"DELETED {target} two"
    for expected in ("ADDED", "MODIFIED", "DELETED"):
        line = table.wait_for(lambda line: target in line)
        assert line.split()[:3] == [expected, target, "1"]
    assert table.proc.poll() is None and events.proc.poll() is None  # still watching


# -- apply, replace, edit -----------------------------------------------------------------


def test_apply_created_unchanged_configured(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    name = _unique("applied")
    path = _write(tmp_path, _deployment(name))
    assert kubectl.run("-n", ns, "apply", "-f", path).stdout.strip() == f"deployment.apps/{name} created"
    first = kubectl.json("-n", ns, "get", "deployment", name)
    assert "kubectl.kubernetes.io/last-applied-configuration" in first["metadata"]["annotations"]

    assert kubectl.run("-n", ns, "apply", "-f", path).stdout.strip() == f"deployment.apps/{name} unchanged"
    assert kubectl.json("-n", ns, "get", "deployment", name)["metadata"]["resourceVersion"] == \
        first["metadata"]["resourceVersion"]

    path = _write(tmp_path, _deployment(name, web_image="nginx:1.28"))
    assert kubectl.run("-n", ns, "apply", "-f", path).stdout.strip() == f"deployment.apps/{name} configured"
    after = kubectl.json("-n", ns, "get", "deployment", name)
    web, sidecar = after["spec"]["template"]["spec"]["containers"]
    assert web["name"] == "web" and web["image"] == "nginx:1.28"
    assert web["ports"] == [{"containerPort": 8080, "name": "http", "protocol": "TCP"}] or \
        web["ports"] == [{"containerPort": 8080, "name": "http"}]
    assert web["env"] == [{"name": "MODE", "value": "test"}]
    assert sidecar == first["spec"]["template"]["spec"]["containers"][1]
    assert sidecar["image"] == "busybox:1"
    assert after["metadata"]["generation"] == first["metadata"]["generation"] + 1
    assert after["metadata"]["uid"] == first["metadata"]["uid"]
    last = json.loads(after["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_replace(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    name = _unique("replaced")
    _apply(kubectl, ns, _configmap(name, data={"key": "one"}))
    live = kubectl.json("-n", ns, "get", "configmap", name)
    live["data"] = {"key": "two", "extra": "yes"}
    path = tmp_path / "replace.json"
    path.write_text(json.dumps(live))
    assert kubectl.run("-n", ns, "replace", "-f", str(path)).stdout.strip() == f"configmap/{name} replaced"
    after = kubectl.json("-n", ns, "get", "configmap", name)
    assert after["data"] == {"key": "two", "extra": "yes"}
    assert after["metadata"]["uid"] == live["metadata"]["uid"]
    assert int(after["metadata"]["resourceVersion"]) > int(live["metadata"]["resourceVersion"])

    # `live` still carries the resourceVersion read before the replace: it is stale now.
    live["data"] = {"key": "three"}
    path.write_text(json.dumps(live))
    stale = kubectl.run("-n", ns, "replace", "-f", str(path), check=False)
    assert stale.returncode != 0
    assert "Conflict" in stale.stderr
    assert "the object has been modified" in stale.stderr
    assert kubectl.json("-n", ns, "get", "configmap", name)["data"] == {"key": "two", "extra": "yes"}


def test_edit_with_editor(kubectl: Kubectl, ns: str) -> None:
    name = _unique("edited")
    _apply(kubectl, ns, _deployment(name, web_image="nginx:1.27", sidecar_image="busybox:1"))
    before = kubectl.json("-n", ns, "get", "deployment", name)
    editor = "sed -i s/busybox:1/busybox:2/"
    out = kubectl.run("-n", ns, "edit", "deployment", name, env={"EDITOR": editor, "KUBE_EDITOR": editor})
    assert out.stdout.strip() == f"deployment.apps/{name} edited"
    after = kubectl.json("-n", ns, "get", "deployment", name)
    images = [c["image"] for c in after["spec"]["template"]["spec"]["containers"]]
    assert images == ["nginx:1.27", "busybox:2"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1

    # An editor that changes nothing: kubectl says so and writes nothing.
    unchanged = kubectl.run("-n", ns, "edit", "deployment", name, env={"EDITOR": "true", "KUBE_EDITOR": "true"})
    assert "Edit cancelled, no changes made." in unchanged.stdout + unchanged.stderr
    assert kubectl.json("-n", ns, "get", "deployment", name)["metadata"]["resourceVersion"] == \
        after["metadata"]["resourceVersion"]


# -- patch, label, annotate, scale ----------------------------------------------------------


def test_patch_strategic_merge_json(kubectl: Kubectl, ns: str) -> None:
    name = _unique("patched")
    _apply(kubectl, ns, _deployment(name))

    # Strategic (the default): containers merge by name, the other container stays.
    strategic = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:3"}]}}}}
    out = kubectl.run("-n", ns, "patch", "deployment", name, "-p", json.dumps(strategic)).stdout
    assert out.strip() == f"deployment.apps/{name} patched"
    containers = kubectl.json("-n", ns, "get", "deployment", name)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:1.27"), ("sidecar", "busybox:3")]
    assert containers[1]["command"] == ["sleep", "3600"]

    # Merge: objects merge, null deletes, lists are replaced wholesale.
    merge = {"metadata": {"labels": {"patched": "merge"}},
             "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:4"}]}}}}
    kubectl.run("-n", ns, "patch", "deployment", name, "--type", "merge", "-p", json.dumps(merge))
    dep = kubectl.json("-n", ns, "get", "deployment", name)
    assert [(c["name"], c["image"]) for c in dep["spec"]["template"]["spec"]["containers"]] == \
        [("only", "busybox:4")]
    assert dep["metadata"]["labels"] == {"app": name, "patched": "merge"}
    kubectl.run("-n", ns, "patch", "deployment", name, "--type", "merge",
                "-p", '{"metadata":{"labels":{"patched":null}}}')
    assert kubectl.json("-n", ns, "get", "deployment", name)["metadata"]["labels"] == {"app": name}

    # JSON patch: ops by path, and a failed test op changes nothing.
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 3},
           {"op": "add", "path": "/metadata/annotations", "value": {"via": "json-patch"}}]
    kubectl.run("-n", ns, "patch", "deployment", name, "--type", "json", "-p", json.dumps(ops))
    dep = kubectl.json("-n", ns, "get", "deployment", name)
    assert dep["spec"]["replicas"] == 3
    assert dep["metadata"]["annotations"]["via"] == "json-patch"
    failing = [{"op": "test", "path": "/spec/replicas", "value": 7},
               {"op": "replace", "path": "/spec/replicas", "value": 9}]
    bad = kubectl.run("-n", ns, "patch", "deployment", name, "--type", "json", "-p", json.dumps(failing),
                      check=False)
    assert bad.returncode != 0
    assert kubectl.json("-n", ns, "get", "deployment", name)["spec"]["replicas"] == 3


def test_label_and_annotate(kubectl: Kubectl, ns: str) -> None:
    name = _unique("labelled")
    _apply(kubectl, ns, _configmap(name))

    def meta() -> dict[str, Any]:
        return kubectl.json("-n", ns, "get", "configmap", name)["metadata"]

    assert kubectl.run("-n", ns, "label", "configmap", name, "tier=frontend", "team=core").stdout.strip() == \
        f"configmap/{name} labeled"
    assert meta()["labels"] == {"tier": "frontend", "team": "core"}
    clash = kubectl.run("-n", ns, "label", "configmap", name, "tier=backend", check=False)
    assert clash.returncode != 0 and "--overwrite" in clash.stderr
    kubectl.run("-n", ns, "label", "configmap", name, "tier=backend", "--overwrite")
    assert meta()["labels"] == {"tier": "backend", "team": "core"}
    assert kubectl.run("-n", ns, "label", "configmap", name, "tier-").stdout.strip() == \
        f"configmap/{name} unlabeled"
    assert meta()["labels"] == {"team": "core"}

    assert kubectl.run("-n", ns, "annotate", "configmap", name, "example.com/owner=alice",
                       "note=hello world").stdout.strip() == f"configmap/{name} annotated"
    annotations = meta()["annotations"]
    assert annotations["example.com/owner"] == "alice"
    assert annotations["note"] == "hello world"
    kubectl.run("-n", ns, "annotate", "configmap", name, "example.com/owner-")
    annotations = meta().get("annotations") or {}
    assert "example.com/owner" not in annotations
    assert annotations["note"] == "hello world"


def test_scale_deployment(kubectl: Kubectl, ns: str) -> None:
    name = _unique("scaled")
    _apply(kubectl, ns, _deployment(name, replicas=1))
    before = kubectl.json("-n", ns, "get", "deployment", name)
    out = kubectl.run("-n", ns, "scale", "deployment", name, "--replicas=4").stdout
    assert out.strip() == f"deployment.apps/{name} scaled"
    after = kubectl.json("-n", ns, "get", "deployment", name)
    assert after["spec"]["replicas"] == 4
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    # The precondition form: only scales when the current count matches.
    wrong = kubectl.run("-n", ns, "scale", "deployment", name, "--current-replicas=2", "--replicas=5",
                        check=False)
    assert wrong.returncode != 0
    assert kubectl.json("-n", ns, "get", "deployment", name)["spec"]["replicas"] == 4
    kubectl.run("-n", ns, "scale", "deployment", name, "--current-replicas=4", "--replicas=0")
    assert kubectl.json("-n", ns, "get", "deployment", name)["spec"]["replicas"] == 0


# -- delete ---------------------------------------------------------------------------------


def test_delete_configmap(kubectl: Kubectl, ns: str) -> None:
    name = _unique("deleted")
    _apply(kubectl, ns, _configmap(name))
    out = kubectl.run("-n", ns, "delete", "configmap", name).stdout
    assert out.strip() == f'configmap "{name}" deleted'
    assert _gone(kubectl, ns, "configmap", name)
    again = kubectl.run("-n", ns, "delete", "configmap", name, check=False)
    assert again.returncode != 0 and "NotFound" in again.stderr


def test_delete_unscheduled_pod_is_immediate(kubectl: Kubectl, ns: str) -> None:
    name = _unique("pod-gone")
    _apply(kubectl, ns, _pod(name))
    kubectl.run("-n", ns, "delete", "pod", name, timeout=20)
    assert _gone(kubectl, ns, "pod", name)


def test_delete_with_finalizer(kubectl: Kubectl, ns: str) -> None:
    name = _unique("finalized")
    _apply(kubectl, ns, _configmap(name, finalizers=["example.com/hold"]))
    out = kubectl.run("-n", ns, "delete", "configmap", name, "--wait=false").stdout
    assert out.strip() == f'configmap "{name}" deleted'
    held = kubectl.json("-n", ns, "get", "configmap", name)
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    # No new finalizers on an object being deleted.
    added = kubectl.run("-n", ns, "patch", "configmap", name, "--type", "json",
                        "-p", '[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/more"}]',
                        check=False)
    assert added.returncode != 0 and "no new finalizers" in added.stderr

    kubectl.run("-n", ns, "patch", "configmap", name, "--type", "json",
                "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    assert _gone(kubectl, ns, "configmap", name)


# -- discovery, health, protobuf ----------------------------------------------------------------


def test_api_resources(kubectl: Kubectl) -> None:
    out = kubectl.run("api-resources").stdout
    assert _header(out) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {(cells[0], cells[2]): cells for cells in _rows(out)}
    assert rows[("pods", "v1")] == ["pods", "po", "v1", "true", "Pod"]
    assert rows[("deployments", "apps/v1")] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert rows[("configmaps", "v1")] == ["configmaps", "cm", "v1", "true", "ConfigMap"]
    assert rows[("namespaces", "v1")] == ["namespaces", "ns", "v1", "false", "Namespace"]
    # Leases have no short name in Kubernetes either.
    assert rows[("leases", "coordination.k8s.io/v1")] == ["leases", "", "coordination.k8s.io/v1", "true",
                                                         "Lease"]

    wide = kubectl.run("api-resources", "-o", "wide", "--api-group=coordination.k8s.io").stdout
    row = _row(wide, "leases")
    assert set(row["VERBS"].split(",")) == {"create", "delete", "deletecollection", "get", "list",
                                                      "patch", "update", "watch"}
    names = kubectl.run("api-resources", "--namespaced=false", "-o", "name").stdout.split()
    assert "namespaces" in names and "pods" not in names


def test_raw_readyz(kubectl: Kubectl) -> None:
    assert kubectl.run("get", "--raw", "/readyz").stdout == "ok"
    verbose = kubectl.run("get", "--raw", "/readyz?verbose").stdout
    assert "[+]etcd ok" in verbose
    assert verbose.rstrip().endswith("readyz check passed")


def test_create_configmap_sends_protobuf(kubectl: Kubectl, ns: str) -> None:
    # kubectl's typed commands send protobuf bodies and never fall back to JSON (API-COMPAT.md
    # §0 item 2, §10); test_protobuf_kubectl.py covers the other typed commands.
    name = _unique("proto")
    out = kubectl.run("-n", ns, "create", "configmap", name, "--from-literal=a=b").stdout
    assert out.strip() == f"configmap/{name} created"
    assert kubectl.json("-n", ns, "get", "configmap", name)["data"] == {"a": "b"}
