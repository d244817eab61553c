"""deploy/kubernetes/ renders with kubectl, validates against Kubernetes 1.29 and runs under OKD's restricted SCC.

Kubernetes 1.29 is what OKD 4.16 ships. Objects of the core API are checked by kubernetes-validate
(offline, strict: an unknown field is an error); the OpenShift Route by a small vendored schema
(tests/deploy/route_v1.schema.json), since no Kubernetes schema knows it.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from registry.agent import build, parse_arguments
from tests.services.required import require_service

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
TARGETS = ["base", "overlays/okd", "overlays/test-namespace"]
#: portal-agent's DaemonSet (its own kustomization): schemas, security and resources as the portal's.
AGENT = "agent"
KUBERNETES_VERSION = "1.29.0"
ROUTE_SCHEMA = json.loads((Path(__file__).parent / "route_v1.schema.json").read_text())
PORTAL = "monitoring-portal"

Obj = dict[str, Any]


@cache
def _render(target: str) -> tuple[Obj, ...]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(KUSTOMIZE / target)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tuple(obj for obj in yaml.safe_load_all(result.stdout) if obj)


@pytest.fixture(params=TARGETS)
def rendered(request: pytest.FixtureRequest) -> tuple[Obj, ...]:
    """The objects `kubectl kustomize` renders for the base and each overlay."""
    require_service("kubectl", shutil.which("kubectl") is not None, "Debian's kubernetes-client")
    return _render(request.param)


@pytest.fixture(params=[*TARGETS, AGENT])
def every_manifest(request: pytest.FixtureRequest) -> tuple[Obj, ...]:
    """The portal's targets and the agent's DaemonSet, rendered."""
    return _render_target(request.param)


def _render_target(target: str) -> tuple[Obj, ...]:
    require_service("kubectl", shutil.which("kubectl") is not None, "Debian's kubernetes-client")
    return _render(target)


def _named(objs: tuple[Obj, ...], kind: str, name: str) -> Obj:
    (found,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _pod_specs(objs: tuple[Obj, ...]) -> list[tuple[str, Obj]]:
    specs = []
    for obj in objs:
        if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            specs.append((f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]))
    return specs


def _containers(pod_spec: Obj) -> list[Obj]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec["containers"])


def _config(objs: tuple[Obj, ...]) -> dict[str, str]:
    (config,) = [
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("portal-config")
    ]
    return dict(config["data"])


def _validate(obj: Obj) -> None:
    if obj["kind"] == "Route":
        jsonschema.validate(obj, ROUTE_SCHEMA)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


# --- Rendering and schemas ---


def test_base_renders_the_portal_and_references_its_services(rendered: tuple[Obj, ...]) -> None:
    kinds = sorted(
        f"{o['kind']}/{o['metadata']['name']}"
        for o in rendered
        if o["metadata"]["name"].startswith("portal-")
    )
    assert {"Deployment/portal-web", "Deployment/portal-worker", "Deployment/portal-beat", "Job/portal-migrate",
            "Service/portal-web", "PodDisruptionBudget/portal-web"} <= set(kinds)  # fmt: skip
    # Secrets are referenced, never rendered from the repository.
    assert [o for o in rendered if o["kind"] == "Secret"] == []


def test_only_the_test_namespace_bundles_postgres_and_redis() -> None:
    for target in TARGETS:
        names = {o["metadata"]["name"] for o in _render_target(target) if o["kind"] == "Deployment"}
        bundled = {"postgres", "redis"} & names
        assert bundled == ({"postgres", "redis"} if target == "overlays/test-namespace" else set()), target


def test_every_rendered_object_validates_against_the_schemas(every_manifest: tuple[Obj, ...]) -> None:
    for obj in every_manifest:
        try:
            _validate(obj)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")


def test_the_validation_catches_a_misspelt_field() -> None:
    objs = _render_target("overlays/okd")
    deployment = copy.deepcopy(_named(objs, "Deployment", "portal-web"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # sic
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)
    route = copy.deepcopy(_named(objs, "Route", "portal-web"))
    route["spec"]["tls"]["termination"] = "edge-only"
    with pytest.raises(jsonschema.ValidationError):
        _validate(route)


# --- Security: OKD's restricted SCC (and the restricted Pod Security Standard) ---


def test_every_container_runs_restricted(every_manifest: tuple[Obj, ...]) -> None:
    for where, template in _pod_specs(every_manifest):
        spec = template["spec"]
        pod_sc = spec.get("securityContext", {})
        # OKD assigns the UID and groups from the project's range: a fixed one is refused.
        assert {"runAsUser", "runAsGroup", "fsGroup", "supplementalGroups"} & set(pod_sc) == set(), where
        assert not {"hostNetwork", "hostPID", "hostIPC"} & {k for k, v in spec.items() if v}, where
        assert spec.get("automountServiceAccountToken") is False, where
        for container in _containers(spec):
            sc = container.get("securityContext", {})
            name = f"{where} container {container['name']}"
            assert "runAsUser" not in sc and "runAsGroup" not in sc, name
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, name
            assert sc.get("allowPrivilegeEscalation") is False, name
            assert sc.get("privileged", False) is False, name
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], name
            assert "add" not in sc.get("capabilities", {}), name
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", name
            assert sc.get("readOnlyRootFilesystem") is True, name
            for port in container.get("ports", []):
                assert port["containerPort"] >= 1024, f"{name}: privileged port {port['containerPort']}"
                assert "hostPort" not in port, name


def test_every_container_has_requests_and_limits(every_manifest: tuple[Obj, ...]) -> None:
    assert _pod_specs(every_manifest)
    for where, template in _pod_specs(every_manifest):
        for container in _containers(template["spec"]):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert set(resources.get(kind, {})) == {"cpu", "memory"}, (
                    f"{where} {container['name']} {kind}"
                )


def test_portal_writable_paths_are_volumes(rendered: tuple[Obj, ...]) -> None:
    # Read-only root: /tmp (gunicorn's heartbeat files) and PORTAL_VAR_DIR (beat's schedule) are emptyDirs.
    var_dir = _config(rendered)["PORTAL_VAR_DIR"]
    for where, template in _pod_specs(rendered):
        if template["metadata"]["labels"].get("app.kubernetes.io/name") != PORTAL:
            continue
        for container in template["spec"]["containers"]:
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert {"/tmp", var_dir} <= mounts, f"{where} {container['name']}"


# --- Singletons, probes, disruption budgets ---


def test_beat_is_a_singleton_that_never_overlaps(rendered: tuple[Obj, ...]) -> None:
    beat = _named(rendered, "Deployment", "portal-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    # A budget for a single replica would block every node drain.
    pdb_selectors = [
        p["spec"]["selector"]["matchLabels"] for p in rendered if p["kind"] == "PodDisruptionBudget"
    ]
    assert beat["spec"]["selector"]["matchLabels"] not in pdb_selectors


def test_web_probes_reach_the_health_views(rendered: tuple[Obj, ...]) -> None:
    web = _named(rendered, "Deployment", "portal-web")["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    config = _config(rendered)
    allowed = config["ALLOWED_HOSTS"].split(",")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        headers = {h["name"]: h["value"] for h in web[probe]["httpGet"].get("httpHeaders", [])}
        # Otherwise Django answers 400 (DisallowedHost) or a redirect to HTTPS, not the check.
        assert headers.get("Host") in allowed, probe
        assert config.get("SECURE_SSL_REDIRECT") == "false" or (
            headers.get("X-Forwarded-Proto") == "https" and config.get("TRUST_X_FORWARDED_PROTO") == "true"
        ), probe


def test_disruption_budgets_select_a_deployment(rendered: tuple[Obj, ...]) -> None:
    selectors = [d["spec"]["selector"]["matchLabels"] for d in rendered if d["kind"] == "Deployment"]
    pdbs = [p for p in rendered if p["kind"] == "PodDisruptionBudget"]
    assert pdbs
    for pdb in pdbs:
        assert pdb["spec"]["selector"]["matchLabels"] in selectors, pdb["metadata"]["name"]


def test_okd_route_terminates_tls_at_the_edge_for_the_web_service() -> None:
    for target in ("overlays/okd", "overlays/test-namespace"):
        objs = _render_target(target)
        route = _named(objs, "Route", "portal-web")
        assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
        service = _named(objs, "Service", route["spec"]["to"]["name"])
        assert route["spec"]["port"]["targetPort"] in {p["name"] for p in service["spec"]["ports"]}
        assert route["spec"]["host"] in _config(objs)["ALLOWED_HOSTS"].split(",")


# --- portal-agent's DaemonSet ---


def test_the_agent_daemonset_declares_each_node_with_the_downward_api(tmp_path: Path) -> None:
    objs = _render_target(AGENT)
    spec = _named(objs, "DaemonSet", "portal-agent")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["PORTAL_AGENT_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["PORTAL_AGENT_ADDRESS"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    # The token is a file from the Secret (re-read at each request), never a value in the manifest.
    token_dir, _, token_name = env["PORTAL_TOKEN_FILE"]["value"].rpartition("/")
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == token_dir]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "portal-agent-token"
    assert [i["path"] for i in volume["secret"]["items"]] == [token_name]
    # The command is the console script, and the agent accepts the ConfigMap's file as it is.
    assert container["command"][0] == "portal-agent"
    assert 'portal-agent = "registry.agent:main"' in (ROOT / "pyproject.toml").read_text()
    (config_map,) = [o for o in objs if o["kind"] == "ConfigMap"]
    config_dir, _, config_name = container["command"][container["command"].index("--config") + 1].rpartition(
        "/"
    )
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == config_dir]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    (tmp_path / config_name).write_text(config_map["data"][config_name])
    command = [
        str(tmp_path / config_name) if a.endswith(config_name) else a for a in container["command"][1:]
    ]
    agent = build(parse_arguments(command), {"PORTAL_API_TOKEN": "x", "PORTAL_AGENT_NAME": "node-1"})
    assert agent.declaration.name == "node-1" and agent.declaration.lease_seconds >= 60
    # Stopping the pod removes the host: the kubelet waits for the drain before it kills.
    assert spec["terminationGracePeriodSeconds"] > agent.drain_timeout


# --- Environment variables: documented, and only those the settings read ---


def settings_variables() -> set[str]:
    """Every variable settings.py reads through env.py's typed helpers (get_str, get_int, ...)."""
    env_tree = ast.parse((ROOT / "monitoring_portal" / "env.py").read_text())
    helpers = {
        node.name
        for node in env_tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("get_")
    }
    assert helpers >= {"get_str", "get_bool", "get_int", "get_list", "get_choice"}
    names = set()
    for node in ast.walk(ast.parse((ROOT / "monitoring_portal" / "settings.py").read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers:
            first = node.args[0]
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), ast.unparse(node)
            names.add(first.value)
    return names


def test_every_variable_the_settings_read_is_documented() -> None:
    read = settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_VAR_DIR"} <= read
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
    assert read - documented == set()


def test_manifests_set_only_variables_the_settings_read(rendered: tuple[Obj, ...]) -> None:
    read = settings_variables()
    # env.py reads any variable from NAME_FILE too.
    known = read | {f"{name}_FILE" for name in read}
    set_here = set(_config(rendered))
    for _where, template in _pod_specs(rendered):
        if template["metadata"]["labels"].get("app.kubernetes.io/name") != PORTAL:
            continue
        for container in _containers(template["spec"]):
            set_here |= {e["name"] for e in container.get("env", [])}
            for ref in container.get("env", []):
                secret = ref.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    assert secret["name"] == "portal-secrets" and secret["key"] == ref["name"], ref
    assert set_here
    assert set_here - known == set()


# --- The image ---


def _final_stage() -> list[str]:
    lines = []
    for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            lines.append(line.strip())
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    return lines[stages[-1] :]


def test_the_image_runs_as_an_arbitrary_non_root_uid_without_build_tools() -> None:
    final = _final_stage()
    (user,) = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    # Numeric: the kubelet can check runAsNonRoot only for a numeric user.
    assert user.isdigit() and int(user) != 0
    runs = " ".join(line for line in final if line.upper().startswith("RUN "))
    # Runtime libraries may be installed (python-ldap's libldap); compilers and headers may not.
    assert not re.search(r"apk add|gcc|g\+\+|make\b|build-essential|-dev\b|pip install", runs)
    if "apt-get install" in runs:
        assert "rm -rf /var/lib/apt/lists" in runs  # no package index left behind either
    assert "pip uninstall" in runs  # no installer left in the running image
    # The writable path belongs to group 0, where OKD puts the arbitrary UID.
    assert re.search(r"chown \d+:0 /app/var", runs)
    assert not [line for line in final if line.upper().startswith("ENTRYPOINT")]
    (cmd,) = [line for line in final if line.upper().startswith("CMD ")]
    command = json.loads(cmd[4:])  # exec form: the process itself, no shell in between
    assert command[0] == "gunicorn"
    assert (
        "whitenoise.middleware.WhiteNoiseMiddleware"
        in (ROOT / "monitoring_portal" / "settings.py").read_text()
    )
    exposed = [int(line.split()[1]) for line in final if line.upper().startswith("EXPOSE ")]
    assert exposed and min(exposed) >= 1024
