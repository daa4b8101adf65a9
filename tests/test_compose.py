"""docker-compose.yml and deploy/docker/: valid against the compose spec, and wired the way Linli runs.

No Docker engine runs here, so these tests read the files: the compose schema (check-jsonschema's vendored
compose-spec), then the structure every service relies on — a migration that finishes before the service starts,
PostgreSQL and NATS healthy first, a healthcheck, only the gateway published, and Dockerfiles whose ``COPY``
sources exist in the build context. Each check returns the problems it finds, so the negative tests below can
prove that a broken file is caught.
"""

from __future__ import annotations

import copy
import fnmatch
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INIT_SQL = ROOT / "deploy" / "docker" / "postgres-init.sql"
NATS_CONF = ROOT / "deploy" / "docker" / "nats.conf"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

Compose = dict[str, Any]


def workspace_services() -> dict[str, dict[str, str]]:
    """Every runnable workspace member (all but the kit), keyed by its Python package = its compose service name."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    services: dict[str, dict[str, str]] = {}
    for member in root["tool"]["uv"]["workspace"]["members"]:
        project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())
        if member == "service-kit":
            continue
        (package,) = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        services[package] = {"PACKAGE": project["project"]["name"], "SERVICE_DIR": member, "APP_MODULE": package}
    return services


SERVICES = workspace_services()
UPSTREAMS = sorted(name for name in SERVICES if name != "gateway")


def load_compose() -> Compose:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def database_url_env(service: str) -> str:
    return f"LINLI_{service.upper()}_DATABASE_URL"


def depends(compose: Compose, name: str) -> dict[str, str]:
    """``depends_on`` as {dependency: condition}; the short list form means ``service_started``."""
    raw = compose["services"][name].get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in raw.items()}


def init_sql_credentials() -> dict[str, tuple[str, str]]:
    """Role -> (password, database it owns), from deploy/docker/postgres-init.sql."""
    sql = INIT_SQL.read_text()
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)';", sql))
    owners = {owner: db for db, owner in re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql)}
    return {role: (password, owners.get(role, "")) for role, password in roles.items()}


# --- checks: each returns a list of problems --------------------------------------------------------------


def service_problems(compose: Compose, name: str) -> list[str]:
    services = compose["services"]
    if name not in services:
        return [f"{name}: missing from docker-compose.yml"]
    svc, problems = services[name], []
    build = svc.get("build")
    if not isinstance(build, dict) or build.get("args") != SERVICES[name]:
        problems.append(f"{name}: build args must be {SERVICES[name]}, got {build}")

    test = svc.get("healthcheck", {}).get("test")
    if not (isinstance(test, list) and test[:2] == ["CMD", "python"] and "127.0.0.1:8000/readyz" in " ".join(test)):
        problems.append(f"{name}: needs a python healthcheck on http://127.0.0.1:8000/readyz, got {test}")

    needed = {
        "postgres": "service_healthy",
        "nats": "service_healthy",
        f"{name}-migrate": "service_completed_successfully",
    }
    if name == "gateway":
        needed |= dict.fromkeys(UPSTREAMS, "service_healthy")
    deps = depends(compose, name)
    problems += [
        f"{name}: must depend on {dep} ({cond}), got {deps.get(dep)}"
        for dep, cond in needed.items()
        if deps.get(dep) != cond
    ]

    env = svc.get("environment", {})
    if not isinstance(env, dict):
        problems.append(f"{name}: environment must be a mapping")
        env = {}
    for key in ("LINLI_NATS_URL", "LINLI_JWKS_URL", database_url_env(name)):
        if key not in env:
            problems.append(f"{name}: environment lacks {key}")
    if env.get("LINLI_NATS_URL", "nats://nats:4222") != "nats://nats:4222":
        problems.append(f"{name}: LINLI_NATS_URL must point at the nats service")
    if env.get("LINLI_JWKS_URL", "") != "http://gateway:8000/.well-known/jwks.json":
        problems.append(f"{name}: LINLI_JWKS_URL must be the gateway's JWKS")
    if name == "gateway":
        if "gateway-var:/app/var" not in svc.get("volumes", []) or "gateway-var" not in compose.get("volumes", {}):
            problems.append("gateway: its signing key (LINLI_VAR_DIR=/app/var) must live on the gateway-var volume")
        for upstream in UPSTREAMS:
            key = f"LINLI_GATEWAY_{upstream.upper()}_URL"
            if env.get(key) != f"http://{upstream}:8000":
                problems.append(f"gateway: {key} must be http://{upstream}:8000, got {env.get(key)}")
    return problems


def database_problems(compose: Compose, name: str) -> list[str]:
    """The service's database URL reaches its own database, as its own role, with the password the init script set."""
    url = compose["services"][name].get("environment", {}).get(database_url_env(name), "")
    parts = urlsplit(url)
    problems = []
    if parts.scheme != "postgresql+asyncpg" or parts.hostname != "postgres" or parts.port != 5432:
        problems.append(f"{name}: database URL must be postgresql+asyncpg://…@postgres:5432/…, got {url!r}")
    credentials = init_sql_credentials()
    if parts.username != name or parts.username not in credentials:
        problems.append(f"{name}: must log in as its own role {name!r} created by postgres-init.sql, got {url!r}")
    elif credentials[name] != (parts.password, parts.path.lstrip("/")):
        problems.append(f"{name}: password/database in {url!r} differ from postgres-init.sql {credentials[name]}")
    return problems


def migration_problems(compose: Compose, name: str) -> list[str]:
    migrate_name = f"{name}-migrate"
    migrate = compose["services"].get(migrate_name)
    if migrate is None:
        return [f"{migrate_name}: missing"]
    service, problems = compose["services"].get(name, {}), []
    if migrate.get("build") != service.get("build") or migrate.get("image") != service.get("image"):
        problems.append(f"{migrate_name}: must use the same build and image as {name}")
    service_dir = SERVICES[name]["SERVICE_DIR"]
    command = "\n".join(migrate.get("command") or [])
    if f'Path("{service_dir}")' not in command or f'"{database_url_env(name)}"' not in command:
        problems.append(f"{migrate_name}: command must upgrade {service_dir} with ${database_url_env(name)}")
    if "upgrade(" not in command or "service_kit.migrations" not in command:
        problems.append(f"{migrate_name}: command must use service_kit.migrations.upgrade")
    if migrate.get("restart", "no") != "no":
        problems.append(f"{migrate_name}: a one-shot job must not restart")
    if depends(compose, migrate_name).get("postgres") != "service_healthy":
        problems.append(f"{migrate_name}: must wait for a healthy postgres")
    url_env = database_url_env(name)
    if migrate.get("environment", {}).get(url_env) != service.get("environment", {}).get(url_env):
        problems.append(f"{migrate_name}: must migrate the database {name} uses")
    if not (ROOT / service_dir / "alembic.ini").is_file() or not (ROOT / service_dir / "migrations").is_dir():
        problems.append(f"{migrate_name}: {service_dir}/alembic.ini and {service_dir}/migrations must exist")
    return problems


def port_problems(compose: Compose) -> list[str]:
    problems = []
    for name, svc in compose["services"].items():
        ports = svc.get("ports")
        if name == "gateway":
            if ports != ["8000:8000"]:
                problems.append(f"gateway: must publish exactly 8000:8000, got {ports}")
        elif ports or svc.get("network_mode") == "host":
            problems.append(f"{name}: only the gateway may be reachable from outside, got ports {ports}")
    return problems


def infrastructure_problems(compose: Compose) -> list[str]:
    services, problems = compose["services"], []
    postgres = services.get("postgres", {})
    if postgres.get("image") != "postgres:16":
        problems.append(f"postgres: image must be postgres:16, got {postgres.get('image')}")
    if "pg_isready" not in " ".join(postgres.get("healthcheck", {}).get("test", [])):
        problems.append("postgres: healthcheck must use pg_isready")
    mounts = dict(_bind_mounts(postgres))
    if mounts.get("/docker-entrypoint-initdb.d/10-linli.sql") != INIT_SQL:
        problems.append("postgres: deploy/docker/postgres-init.sql must be mounted into /docker-entrypoint-initdb.d")

    nats = services.get("nats", {})
    match = re.fullmatch(r"nats:(\d+)\.(\d+)(?:[.-].*)?", nats.get("image", ""))
    if not match or (int(match.group(1)), int(match.group(2))) < (2, 10):
        problems.append(f"nats: image must be nats 2.10 or later, got {nats.get('image')}")
    command = nats.get("command", [])
    if "-js" not in command:
        problems.append("nats: must run with -js")
    config_path = command[command.index("--config") + 1] if "--config" in command[:-1] else None
    if config_path is None or dict(_bind_mounts(nats)).get(config_path) != NATS_CONF:
        problems.append("nats: --config must name the mounted deploy/docker/nats.conf")
    conf = NATS_CONF.read_text()
    if not re.search(r"^\s*sync_interval:\s*always\s*$", conf, re.M):
        problems.append("nats.conf: JetStream must fsync every write (sync_interval: always)")
    store = re.search(r"^\s*store_dir:\s*(\S+)\s*$", conf, re.M)
    volumes = {_split_volume(v)[1]: _split_volume(v)[0] for v in nats.get("volumes", []) if isinstance(v, str)}
    if store is None or volumes.get(store.group(1)) not in compose.get("volumes", {}):
        problems.append("nats: the JetStream store_dir must be a named volume")
    if not nats.get("healthcheck"):
        problems.append("nats: needs a healthcheck")

    for name, svc in services.items():
        for _target, source in _bind_mounts(svc):
            if not source.exists():
                problems.append(f"{name}: bind mount source {source} does not exist")
    return problems


def _split_volume(spec: str) -> tuple[str, str]:
    source, target = spec.split(":")[:2]
    return source, target


def _bind_mounts(svc: dict[str, Any]) -> list[tuple[str, Path]]:
    mounts = []
    for spec in svc.get("volumes", []):
        if isinstance(spec, str):
            source, target = _split_volume(spec)
            if source.startswith((".", "/")):
                mounts.append((target, (ROOT / source).resolve()))
    return mounts


# --- Dockerfiles ------------------------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerignore_excludes(relative: str, patterns: list[str]) -> bool:
    """Whether the build context leaves ``relative`` out (the last matching pattern wins; ``!`` re-includes)."""
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        for prefix in prefixes:
            tails = ["/".join(prefix.split("/")[i:]) for i in range(len(prefix.split("/")))]
            if any(fnmatch.fnmatchcase(t, c) for c in candidates for t in (tails if c != pattern else [prefix])):
                excluded = not negate
    return excluded


def dockerfile_problems(compose: Compose, name: str) -> list[str]:
    build = compose["services"][name].get("build")
    if not isinstance(build, dict):
        return [f"{name}: build must be a mapping with context and dockerfile"]
    context = (ROOT / build.get("context", ".")).resolve()
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    if not dockerfile.is_file():
        return [f"{name}: Dockerfile {dockerfile} does not exist"]
    ignore_file = context / ".dockerignore"
    ignore = [
        line.strip()
        for line in (ignore_file.read_text().splitlines() if ignore_file.exists() else [])
        if line.strip() and not line.startswith("#")
    ]
    instructions = dockerfile_instructions(dockerfile)
    problems: list[str] = []

    args: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "ARG":
            key, _, default = rest.partition("=")
            args.setdefault(key, default)
    args |= build.get("args", {})
    missing = sorted(set(build.get("args", {})) - {rest.partition("=")[0] for k, rest in instructions if k == "ARG"})
    if missing:
        problems.append(f"{name}: build args {missing} are not declared in {dockerfile.name}")

    def expand(value: str) -> str:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), value)

    for keyword, rest in instructions:
        if keyword in ("COPY", "ADD"):
            words = rest.split()
            if any(w.startswith("--from") for w in words):
                continue
            for source in [w for w in words if not w.startswith("--")][:-1]:
                relative = expand(source)
                if not (context / relative).exists():
                    problems.append(f"{name}: COPY source {source} -> {relative} missing from the build context")
                elif relative.strip("./") and dockerignore_excludes(relative, ignore):
                    problems.append(f"{name}: COPY source {relative} is excluded by .dockerignore")

    froms = [expand(rest.split()[0]) for keyword, rest in instructions if keyword == "FROM"]
    if not froms or any(image != "python:3.11-slim" for image in froms):
        problems.append(f"{name}: every stage must build FROM python:3.11-slim, got {froms}")
    runs = " ".join(expand(rest) for keyword, rest in instructions if keyword == "RUN")
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    if uv_version is None or f"uv=={uv_version.group(1)}" not in runs:
        problems.append(f"{name}: must pip install the Makefile's uv version")
    if f'uv sync --frozen --no-dev --no-editable --package "{SERVICES[name]["PACKAGE"]}"' not in runs:
        problems.append(f"{name}: must install its package with uv sync --frozen --no-dev")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{name}: the final stage must run as a non-root USER")
    cmd = " ".join(rest for keyword, rest in instructions if keyword == "CMD")  # expanded by the shell at run time
    env = " ".join(expand(rest) for keyword, rest in instructions if keyword == "ENV")
    if "uvicorn --factory" not in cmd or "--port 8000" not in cmd:
        problems.append(f"{name}: CMD must start the uvicorn factory on port 8000")
    if "--no-server-header" not in cmd:
        problems.append(f"{name}: CMD must not announce the server software (--no-server-header)")
    if "--no-proxy-headers" not in cmd:
        problems.append(f"{name}: CMD must leave X-Forwarded-For to the gateway (--no-proxy-headers)")
    if f"LINLI_APP_MODULE={SERVICES[name]['APP_MODULE']}" not in env or "${LINLI_APP_MODULE}.app:create_app" not in cmd:
        problems.append(f"{name}: CMD must serve {SERVICES[name]['APP_MODULE']}.app:create_app")
    return problems


def worker_problems(compose: Compose, name: str) -> list[str]:
    """The service's relay, consumers and jobs run in ``<name>-worker`` (its image, ``python -m <name>.worker``,
    its settings, after its migration), and its API leaves them to it (``LINLI_RUN_WORKER=false``)."""
    services, worker_name = compose["services"], f"{name}-worker"
    worker, api = services.get(worker_name), services.get(name, {})
    if worker is None:
        return [f"{worker_name}: missing: the API would be the only one to run the relay and consumers"]
    problems = []
    if worker.get("build") != api.get("build") or worker.get("image") != api.get("image"):
        problems.append(f"{worker_name}: must use the same build and image as {name}")
    if worker.get("command") != ["python", "-m", f"{name}.worker"]:
        problems.append(f"{worker_name}: command must be python -m {name}.worker, got {worker.get('command')}")
    api_env, worker_env = api.get("environment", {}), worker.get("environment", {})
    if api_env.get("LINLI_RUN_WORKER") != "false":
        problems.append(f'{name}: LINLI_RUN_WORKER must be "false": its worker runs apart')
    if worker_env.get("LINLI_RUN_WORKER") != "true":
        problems.append(f'{worker_name}: LINLI_RUN_WORKER must be "true"')
    for key in ("LINLI_NATS_URL", database_url_env(name)):
        if worker_env.get(key) != api_env.get(key):
            problems.append(f"{worker_name}: {key} must be the same as {name}'s")
    alive = worker_env.get("LINLI_WORKER_ALIVE_FILE")
    probe = worker.get("healthcheck", {}).get("test")
    if not alive or probe != ["CMD", "python", "-m", "service_kit.alive", alive]:
        problems.append(
            f"{worker_name}: its healthcheck must run python -m service_kit.alive on LINLI_WORKER_ALIVE_FILE"
        )
    needed = {
        "postgres": "service_healthy",
        "nats": "service_healthy",
        f"{name}-migrate": "service_completed_successfully",
    }
    deps = depends(compose, worker_name)
    problems += [f"{worker_name}: must depend on {d} ({c})" for d, c in needed.items() if deps.get(d) != c]
    return problems


# --- tests ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


def run_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    assert CHECK_JSONSCHEMA.exists(), f"check-jsonschema is not installed next to {sys.executable}"
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_file_matches_the_compose_spec() -> None:
    result = run_compose_schema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    broken = load_compose()
    broken["services"]["booking"]["depends_on"]["postgres"] = {"condition": "whenever"}
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = run_compose_schema(path)
    assert result.returncode != 0
    assert "whenever" in result.stdout + result.stderr


def test_every_workspace_service_is_composed() -> None:
    assert set(SERVICES) == {"gateway", "registry", "booking", "procurement", "feedback"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_is_wired(compose: Compose, name: str) -> None:
    assert service_problems(compose, name) == []


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_uses_its_own_database(compose: Compose, name: str) -> None:
    assert database_problems(compose, name) == []


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_migration_completes_before_the_service(compose: Compose, name: str) -> None:
    assert migration_problems(compose, name) == []


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dockerfile_builds_the_service(compose: Compose, name: str) -> None:
    assert dockerfile_problems(compose, name) == []


@pytest.mark.parametrize("name", UPSTREAMS)
def test_worker_runs_apart_from_the_api(compose: Compose, name: str) -> None:
    assert worker_problems(compose, name) == []


def test_a_missing_or_miswired_worker_is_caught(compose: Compose) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["booking-worker"]
    broken["services"]["feedback"]["environment"]["LINLI_RUN_WORKER"] = "true"
    broken["services"]["registry-worker"]["command"] = ["python", "-m", "registry.app"]
    assert any("missing" in p for p in worker_problems(broken, "booking"))
    assert any("LINLI_RUN_WORKER" in p for p in worker_problems(broken, "feedback"))
    assert any("command" in p for p in worker_problems(broken, "registry"))
    del broken["services"]["procurement-worker"]["healthcheck"]
    assert "procurement-worker: its healthcheck must run python -m service_kit.alive on LINLI_WORKER_ALIVE_FILE" in (
        worker_problems(broken, "procurement")
    )


def test_only_the_gateway_is_published(compose: Compose) -> None:
    assert port_problems(compose) == []


def test_the_gateway_says_which_proxies_it_believes(compose: Compose) -> None:
    # Nothing stands in front of the published gateway: by default no X-Forwarded-For is believed.
    value = compose["services"]["gateway"]["environment"]["LINLI_TRUSTED_PROXIES"]
    assert value == "${LINLI_TRUSTED_PROXIES:-[]}"


def test_postgres_and_nats(compose: Compose) -> None:
    assert infrastructure_problems(compose) == []


def test_init_script_gives_each_service_a_database_and_a_role() -> None:
    credentials = init_sql_credentials()
    assert set(credentials) == set(SERVICES)
    assert all(database == role for role, (_password, database) in credentials.items())
    for role in credentials:
        assert f"REVOKE ALL ON DATABASE {role} FROM PUBLIC;" in INIT_SQL.read_text()


def test_no_secrets_beyond_marked_dev_defaults() -> None:
    text = COMPOSE_FILE.read_text()
    assert "DEV-ONLY" in text
    for match in re.finditer(r"(PASSWORD|DATA_KEY)\s*:\s*(\S+)", text):
        assert "dev-only" in match.group(2).lower(), f"{match.group(0)} is not a marked dev default"


# --- the checks catch what they claim to catch ------------------------------------------------------------


def test_checks_catch_a_missing_healthy_dependency(compose: Compose) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["booking"]["depends_on"]["nats"] = {"condition": "service_started"}
    del broken["services"]["feedback"]["depends_on"]["feedback-migrate"]
    del broken["services"]["procurement"]["healthcheck"]
    assert any("nats" in p for p in service_problems(broken, "booking"))
    assert any("feedback-migrate" in p for p in service_problems(broken, "feedback"))
    assert any("healthcheck" in p for p in service_problems(broken, "procurement"))


def test_checks_catch_a_published_service_port(compose: Compose) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["registry"]["ports"] = ["8001:8000"]
    assert port_problems(broken) == [
        "registry: only the gateway may be reachable from outside, got ports ['8001:8000']",
    ]


def test_checks_catch_a_wrong_migration_or_database(compose: Compose) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["booking-migrate"]["command"] = ["python", "-c", "print('nothing')"]
    # Anchored mappings are shared between a service and its migration: replace, never mutate in place.
    broken["services"]["feedback"]["environment"] = {
        **compose["services"]["feedback"]["environment"],
        "LINLI_FEEDBACK_DATABASE_URL": "postgresql+asyncpg://booking:booking@postgres:5432/booking",
    }
    assert migration_problems(broken, "booking")
    assert database_problems(broken, "feedback")
    assert any("must migrate the database" in p for p in migration_problems(broken, "feedback"))


def test_checks_catch_a_missing_copy_source(compose: Compose) -> None:
    broken = copy.deepcopy(compose)
    build = compose["services"]["booking"]["build"]
    broken["services"]["booking"]["build"] = {**build, "args": {**build["args"], "SERVICE_DIR": "no-such-service"}}
    assert any("no-such-service" in p for p in dockerfile_problems(broken, "booking"))
    broken["services"]["booking"]["build"] = {**build, "dockerfile": "deploy/docker/Nope.Dockerfile"}
    assert any("does not exist" in p for p in dockerfile_problems(broken, "booking"))


def test_dockerignore_matching() -> None:
    patterns = [".venv", "**/tests", "docs", "!docs/keep.md"]
    assert dockerignore_excludes(".venv/bin/python", patterns)
    assert dockerignore_excludes("booking-service/tests/test_x.py", patterns)
    assert dockerignore_excludes("docs/vertical-slice.md", patterns)
    assert not dockerignore_excludes("docs/keep.md", patterns)
    assert not dockerignore_excludes("booking-service/booking/app.py", patterns)
