"""docker-compose.yml and the Dockerfile: valid offline (the compose-spec schema, the same NATS users as everywhere),
and, where a Docker engine exists, the stack brought up (pytest-docker) and the end-to-end flow run against it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from assist_contract import natsauth

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = ("consent", "session", "billing", "gateway")


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # PyYAML resolves the `<<` merge keys as compose does


def test_docker_compose_yml_is_valid_against_the_compose_spec_schema():
    checker = str(Path(sys.executable).parent / "check-jsonschema")
    result = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stack_has_persisted_jetstream_postgres_healthchecks_and_the_gateway_on_8000():
    services = compose()["services"]
    assert {"nats", "postgres", "migrate", *SERVICES} <= set(services)
    assert any(volume.endswith(":/data") for volume in services["nats"]["volumes"])
    assert "jetstream" in (ROOT / "deploy" / "compose" / "nats.conf").read_text()
    assert "8000:8000" in services["gateway"]["ports"]
    for name in ("nats", "postgres", *SERVICES):
        assert services[name]["healthcheck"]["test"], name
    for name in SERVICES:
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert service["command"][:2] == ["service", name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name


def test_compose_gives_each_service_its_own_nats_user_and_nats_the_generated_users():
    services = compose()["services"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in services["nats"]["volumes"]}
    assert (ROOT / mounted["/etc/nats/auth.conf"]).read_text() == natsauth.render_authorization()
    assert set(services["nats"]["environment"]) == {natsauth.password_variable(u) for u in natsauth.users()}
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["NATS_USER"] == name
        # The same variable feeds the server's password and the service's.
        assert natsauth.password_variable(name) in env["NATS_PASSWORD"]


def test_the_gateway_in_compose_trusts_no_proxy_and_keeps_metrics_and_docs_private_by_default():
    env = compose()["services"]["gateway"]["environment"]
    # No proxy stands in front of the published port: by default nobody's X-Forwarded-For is believed.
    assert env["TRUSTED_PROXIES"] == "${TRUSTED_PROXIES:-}"
    assert env["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"  # empty: the gateway serves no /metrics
    assert "API_DOCS" not in env


def test_the_image_runs_as_non_root_and_installs_exactly_the_lock_with_the_makefiles_uv():
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER 10001", final_stage, re.MULTILINE)
    assert "uv sync --frozen --no-dev" in dockerfile
    uv_makefile = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert f"ARG UV_VERSION={uv_makefile}" in dockerfile


# --- the whole stack under Docker ------------------------------------------------------------------------------------

def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], check=False, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_docker = pytest.mark.skipif(not _docker_engine_answers(), reason="no Docker engine")


@pytest.fixture(scope="session")
def docker_compose_file():
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_setup():
    return ["up --build --wait -d"]


class ComposeSystem:
    """What tests/support/relay_flow.py needs of a system: staff accounts made inside the gateway container."""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url

    def add_user(self, role: str, username: str, password: str, *, check: bool = True) -> None:
        result = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), "exec", "-T", "gateway", "assist", "user", "add",
             "--role", role, "--username", username, "--password", password],
            check=False, capture_output=True, text=True, timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stderr


@pytest.mark.e2e
@needs_docker
async def test_the_compose_stack_serves_the_end_to_end_flow(docker_services, docker_ip):
    from public_api import bearer, close_code, wait_for_status
    from relay_flow import open_relay

    gateway_url = f"http://{docker_ip}:{docker_services.port_for('gateway', 8000)}"
    docker_services.wait_until_responsive(
        check=lambda: _ready(gateway_url), timeout=180.0, pause=1.0
    )
    system = ComposeSystem(gateway_url)
    request, agent, consultant, _token = await open_relay(system, agent_gateway=gateway_url,
                                                          consultant_gateway=gateway_url)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as customer:
        ended = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                    headers=bearer(request.customer_token))
        assert ended.status_code == 200, ended.text
        assert (await close_code(agent))[0] == 4410
        assert (await close_code(consultant))[0] == 4410
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
