"""Check the Helm chart: lint, render, validate against Kubernetes schemas, diff goldens, reject bad values.

For every deploy/helm/crm/ci/<name>.yaml: `helm lint --strict`, `helm template`, strict validation of
every rendered document against the Kubernetes OpenAPI schemas (an unknown kind fails unless its schema
is supplied in deploy/schemas/), the chart's own invariants (hardened pods, probes, secrets only by
reference, Services that select pods, one NetworkPolicy/HPA/PDB/ServiceMonitor per service), then a
diff against deploy/helm/crm/golden/<name>.yaml. Then values that the schema must refuse are fed to
`helm template`, which must fail; `promtool check rules` and `promtool test rules` run on the alerts;
the dashboards and the generated README must be fresh.

The optional dependencies (NATS, CloudNativePG) are not vendored and cannot be fetched offline. Helm
refuses to lint or render a chart whose declared dependencies are missing from charts/, even when their
`condition` is false, so the check asserts that this is the only complaint about the real chart, that
every ci/ file keeps them disabled, and renders a copy of the chart without the `dependencies:` list,
which with the dependencies disabled renders the same objects. Run from the repository root:

    python -m tools.chart_check                  # check
    python -m tools.chart_check --update-golden  # rewrite the goldens, then check
"""

from __future__ import annotations

import argparse
import atexit
import difflib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tools import chart_readme, dashboards

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "deploy" / "helm" / "crm"
CI_DIR = CHART / "ci"
GOLDEN_DIR = CHART / "golden"
SKAFFOLD = REPO / "skaffold.yaml"
CRD_SCHEMAS = REPO / "deploy" / "schemas"
ALERT_RULES = CHART / "files" / "alerts"
ALERT_TESTS = REPO / "deploy" / "prometheus" / "tests"
DASHBOARD_DIR = CHART / "files" / "dashboards"
KUBE_VERSION = "1.33.0"
RELEASE = "crm"
NAMESPACE = "crm"
MAX_DIFF_LINES = 120
SECRET_ENV = {"CRM_DATABASE_URL", "CRM_API_KEYS", "CRM_NATS_CREDENTIALS", "CRM_IDENTITY_KEY"}
SCHEMA_REJECTION = "don't meet the specifications of the schema"
# Who may call whom over gRPC (shared/ARCHITECTURE.md); every NetworkPolicy must admit exactly these.
CALLERS: dict[str, set[str]] = {
    "lead": {"gateway", "integration-gateway", "pipeline"},
    "customer-master": {"gateway", "lead"},
    "pipeline": {"gateway"},
    "notification": {"gateway", "integration-gateway"},
    "integration-gateway": {"gateway"},
    "reporting": {"gateway"},
}

# Values the chart must refuse: (what is wrong, values file content, text the error must contain).
REJECTED_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top-level key", {"replicas": 2}, SCHEMA_REJECTION),
    ("unknown key in a services entry", {"services": {"lead": {"replica": 2}}}, SCHEMA_REJECTION),
    ("wrong type (replicas as a string)", {"services": {"lead": {"replicas": "two"}}}, SCHEMA_REJECTION),
    ("wrong type (enabled as a string)", {"ingress": {"enabled": "yes"}}, SCHEMA_REJECTION),
    ("unknown environment", {"global": {"environment": "staging"}}, SCHEMA_REJECTION),
    ("database URL as a literal", {"services": {"lead": {"databaseSecret": "postgresql://x"}}}, SCHEMA_REJECTION),
    ("gRPC service without its health service name", {"services": {"lead": {"grpcService": None}}}, SCHEMA_REJECTION),
    ("calls to a service that does not exist", {"services": {"lead": {"calls": ["nobody"]}}}, "is not a service"),
    ("unknown key under monitoring", {"monitoring": {"grafana": {}}}, SCHEMA_REJECTION),
    ("wrong type (networkPolicy.enabled as a string)", {"networkPolicy": {"enabled": "true"}}, SCHEMA_REJECTION),
    ("HPA with a string maxReplicas", {"services": {"lead": {"autoscaling": {"maxReplicas": "5"}}}}, SCHEMA_REJECTION),
    ("egress rule with an unknown field", {"services": {"lead": {"extraEgress": [{"too": []}]}}}, SCHEMA_REJECTION),
    ("mtls.enabled as a string", {"mtls": {"enabled": "true"}}, SCHEMA_REJECTION),
    ("an egress CIDR that is not one", {"networkPolicy": {"egress": {"allowedCidrs": ["0.0.0.0"]}}}, SCHEMA_REJECTION),
    ("OIDC granting the service role", {"oidc": {"groupRoles": {"robots": "service"}}}, SCHEMA_REJECTION),
    ("OIDC issuer without audience or JWKS", {"oidc": {"issuer": "https://idp"}}, SCHEMA_REJECTION),
    ("a JWKS URL over plain HTTP", {"oidc": {"jwksUrl": "http://idp/certs"}}, SCHEMA_REJECTION),
    ("the identity key Secret without its key", {"identity": {"secret": {"name": "crm-identity", "key": None}}},
     SCHEMA_REJECTION),
    (
        "ingress to a service with no HTTP port",
        {"ingress": {"enabled": True, "service": "lead"}},
        "must be an enabled service with an http port",
    ),
]


class CheckFailed(Exception):
    """A check did not pass; the message says why."""


@dataclass
class Report:
    """Collects the outcome of every check."""

    failures: list[str] = field(default_factory=list)

    def run(self, what: str, check: Callable[[], str | None]) -> None:
        """Run one check, print its outcome and remember a failure."""
        started = time.monotonic()
        try:
            detail = check()
        except CheckFailed as failure:
            self.fail(what, str(failure))
            return
        except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as error:
            # A missing or malformed input is a failed check, not a crash that hides the others.
            self.fail(what, f"{type(error).__name__}: {error}")
            return
        elapsed = time.monotonic() - started
        print(f"ok   {what}" + (f": {detail}" if detail else "") + f" ({elapsed:.2f}s)")

    def fail(self, what: str, why: str) -> None:
        """Print and remember one failure."""
        self.failures.append(what)
        print(f"FAIL {what}\n{_indent(why)}")


def _indent(text: str) -> str:
    """Indent a multi-line message under its check."""
    return "\n".join("     " + line for line in text.rstrip().splitlines())


@functools.cache
def helm_binary() -> str:
    """The helm to run: $HELM (a path or a command on PATH), else the one `make install` puts in .tools/bin."""
    requested = os.environ.get("HELM") or str(REPO / ".tools" / "bin" / "helm")
    found = shutil.which(requested)
    if found is None:
        raise SystemExit(f"helm not found: {requested} (run `make install` or set HELM)")
    return os.path.abspath(found)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run helm from the repository root, capturing its output."""
    return subprocess.run([helm_binary(), *args], cwd=REPO, capture_output=True, text=True, check=False)


def chart_dependencies() -> list[dict[str, Any]]:
    """The dependencies Chart.yaml declares."""
    return yaml.safe_load((CHART / "Chart.yaml").read_text()).get("dependencies") or []


@functools.cache
def renderable_chart() -> Path:
    """The chart as Helm can render it offline: a copy without the (disabled, unfetched) dependencies."""
    if not chart_dependencies() or (CHART / "charts").is_dir():
        return CHART
    workdir = tempfile.mkdtemp(prefix="crm-chart-")
    atexit.register(shutil.rmtree, workdir, True)
    copy = Path(workdir) / CHART.name
    shutil.copytree(CHART, copy, ignore=shutil.ignore_patterns("golden", "ci"))
    metadata = yaml.safe_load((copy / "Chart.yaml").read_text())
    del metadata["dependencies"]
    (copy / "Chart.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    return copy


def check_dependencies(values_files: list[Path]) -> str:
    """Every dependency is optional and off in every ci/ file; missing ones are Helm's only complaint."""
    declared = chart_dependencies()
    errors = [f"dependency {d['name']} has no condition" for d in declared if not d.get("condition")]
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for dependency in declared:
        key = dependency.get("condition", "").split(".")[0]
        for values in values_files:
            override = (yaml.safe_load(values.read_text()) or {}).get(key, {}) or {}
            if override.get("enabled", defaults.get(key, {}).get("enabled")):
                errors.append(f"{values.name}: {key}.enabled cannot be rendered offline (not vendored)")
    if not declared:
        return "no dependencies"
    result = helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION)
    names = ",".join(d["name"] for d in declared)
    if (CHART / "charts").is_dir():
        return f"{names} present in charts/"
    complaint = f"chart directory is missing these dependencies: {names}"
    if result.returncode == 0 or complaint not in result.stdout + result.stderr:
        errors.append(f"expected helm lint to fail only for the missing {names}, got:\n{result.stdout}{result.stderr}")
    other = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.startswith(("[ERROR]", "[WARNING]")) and complaint not in line
    ]
    if other:
        errors.append("helm lint reports more than the missing dependencies:\n" + "\n".join(other))
    if errors:
        raise CheckFailed("\n".join(errors))
    return f"{names}: optional, off in every ci/ file, not vendored (helm lint: missing, as expected)"


def render(values: Path) -> str:
    """`helm template` the chart with one values file, as a fixed release in a fixed namespace."""
    result = helm(
        "template",
        RELEASE,
        str(renderable_chart()),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(values),
    )
    if result.returncode != 0:
        raise CheckFailed(f"helm template failed:\n{result.stderr}")
    return result.stdout


def lint(values: Path) -> str:
    """`helm lint --strict` with one values file."""
    result = helm(
        "lint",
        "--strict",
        str(renderable_chart()),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(values),
    )
    if result.returncode != 0:
        raise CheckFailed(f"helm lint --strict failed:\n{result.stdout}{result.stderr}")
    return "lint --strict clean"


def split_documents(rendered: str) -> list[dict[str, Any]]:
    """The rendered manifests as objects; every document must be a named Kubernetes object."""
    documents = []
    for index, document in enumerate(yaml.safe_load_all(rendered)):
        if document is None:
            continue
        if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= document.keys():
            raise CheckFailed(f"document {index} is not a Kubernetes object: {str(document)[:200]}")
        if not document["metadata"].get("name"):
            raise CheckFailed(f"document {index} ({document['kind']}) has no metadata.name")
        documents.append(document)
    if not documents:
        raise CheckFailed("helm template rendered nothing")
    return documents


def kind_name(document: dict[str, Any]) -> str:
    """Kind/name of a rendered object, for messages."""
    return f"{document['kind']}/{document['metadata']['name']}"


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema of the custom resources whose schemas deploy/schemas/ supplies."""
    found = {}
    for path in sorted(CRD_SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        properties = schema["properties"]
        found[(properties["apiVersion"]["const"], properties["kind"]["const"])] = schema
    return found


def validate_documents(documents: list[dict[str, Any]]) -> str:
    """Validate every object against the strict Kubernetes schemas; unknown kinds are errors."""
    errors = []
    for document in documents:
        custom = crd_schemas().get((document["apiVersion"], document["kind"]))
        if custom is not None:
            validator = jsonschema.Draft202012Validator(custom)
            for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
                path = ".".join(str(part) for part in error.path) or "(root)"
                errors.append(f"{kind_name(document)}: {path}: {error.message}")
            continue
        try:
            kubernetes_validate.validate(document, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path) or "(root)"
            errors.append(f"{kind_name(document)}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            # The library's own CLI only warns here; an unknown kind must fail the check.
            errors.append(f"{kind_name(document)}: unknown kind: {error.message}")
        except kubernetes_validate.InvalidSchemaError as error:
            errors.append(f"{kind_name(document)}: {error.message}")
    if errors:
        raise CheckFailed("\n".join(errors))
    kinds = sorted({document["kind"] for document in documents})
    return f"{len(documents)} objects valid for Kubernetes {KUBE_VERSION} (strict): {', '.join(kinds)}"


def pod_specs(documents: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(owning object, pod template) for every workload."""
    for document in documents:
        if document["kind"] in {"Deployment", "Job"}:
            yield document, document["spec"]["template"]


def check_invariants(documents: list[dict[str, Any]]) -> str:
    """What the schemas cannot see: hardening, probes, secrets by reference, Services that select pods."""
    errors = []
    config_maps = {d["metadata"]["name"]: d.get("data") or {} for d in documents if d["kind"] == "ConfigMap"}
    for name, data in config_maps.items():
        errors += [f"ConfigMap/{name}: secret {key} stored as plain data" for key in SECRET_ENV & data.keys()]
        if data.get("CRM_ENVIRONMENT") == "production":
            # Production exposes neither the gRPC schema nor the interactive API docs.
            errors += [
                f"ConfigMap/{name}: {key} is on in production"
                for key in ("CRM_GRPC_REFLECTION", "CRM_DOCS_ENABLED")
                if data.get(key, "false") != "false"
            ]
    for policy in (d for d in documents if d["kind"] == "NetworkPolicy"):
        if any(not rule.get("to") for rule in policy["spec"].get("egress", [])):
            errors.append(f"{kind_name(policy)}: an egress rule allows every address")
    for owner, template in pod_specs(documents):
        where = kind_name(owner)
        spec = template["spec"]
        pod_security = spec.get("securityContext") or {}
        if pod_security.get("runAsNonRoot") is not True or pod_security.get("runAsUser") != 10001:
            errors.append(f"{where}: pod must run as non-root user 10001")
        if spec.get("automountServiceAccountToken") is not False:
            errors.append(f"{where}: service account token must not be mounted")
        for container in spec["containers"]:
            at = f"{where}/{container['name']}"
            security = container.get("securityContext") or {}
            if not (
                security.get("readOnlyRootFilesystem") is True
                and security.get("allowPrivilegeEscalation") is False
                and security.get("capabilities", {}).get("drop") == ["ALL"]
                and security.get("seccompProfile", {}).get("type") == "RuntimeDefault"
            ):
                errors.append(f"{at}: container security context is not hardened")
            if not {"requests", "limits"} <= (container.get("resources") or {}).keys():
                errors.append(f"{at}: resources need requests and limits")
            if owner["kind"] == "Deployment":
                missing = {"startupProbe", "livenessProbe", "readinessProbe"} - container.keys()
                if missing:
                    errors.append(f"{at}: missing {', '.join(sorted(missing))}")
                if "CRM_IDENTITY_KEY" not in {variable["name"] for variable in container.get("env") or []}:
                    errors.append(f"{at}: CRM_IDENTITY_KEY (the identity token key) is not set")
            for variable in container.get("env") or []:
                if variable["name"] in SECRET_ENV and "secretKeyRef" not in (variable.get("valueFrom") or {}):
                    errors.append(f"{at}: {variable['name']} must come from a secretKeyRef")
    errors += _service_errors(documents)
    errors += _per_service_errors(documents)
    if errors:
        raise CheckFailed("\n".join(errors))
    return "hardened pods, probes, secrets by reference, Services select pods"


def _service_errors(documents: list[dict[str, Any]]) -> list[str]:
    """Every Service selects exactly one Deployment, and its named target ports exist there."""
    errors = []
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    for service in (d for d in documents if d["kind"] == "Service"):
        selector = service["spec"].get("selector") or {}
        selected = [
            d
            for d in deployments
            if selector and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        if len(selected) != 1:
            errors.append(f"{kind_name(service)}: selects {len(selected)} Deployments, want 1")
            continue
        port_names = {
            port.get("name")
            for container in selected[0]["spec"]["template"]["spec"]["containers"]
            for port in container.get("ports") or []
        }
        for port in service["spec"]["ports"]:
            target = port.get("targetPort")
            if isinstance(target, str) and target not in port_names:
                errors.append(f"{kind_name(service)}: targetPort {target} is not a container port")
    return errors


def _per_service_errors(documents: list[dict[str, Any]]) -> list[str]:
    """Each Deployment has its NetworkPolicy, PDB and (unless replicas are fixed) HPA; monitors match Services."""
    errors = []
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
    policies = by_kind.get("NetworkPolicy", {})
    for name, deployment in by_kind.get("Deployment", {}).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if policies:
            policy = policies.get(name)
            selector = (policy or {}).get("spec", {}).get("podSelector", {}).get("matchLabels", {})
            if not policy or not selector or not selector.items() <= labels.items():
                errors.append(f"Deployment/{name}: no NetworkPolicy selects its pods")
        hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(name)
        if hpa is not None:
            if "replicas" in deployment["spec"]:
                errors.append(f"Deployment/{name}: fixed replicas while an HPA scales it")
            if hpa["spec"]["scaleTargetRef"] != {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}:
                errors.append(f"HorizontalPodAutoscaler/{name}: does not target Deployment/{name}")
        pdb = by_kind.get("PodDisruptionBudget", {}).get(name)
        if pdb is not None and not pdb["spec"]["selector"]["matchLabels"].items() <= labels.items():
            errors.append(f"PodDisruptionBudget/{name}: does not select Deployment/{name}'s pods")
    errors += _caller_errors(by_kind)
    monitors = by_kind.get("ServiceMonitor", {})
    if monitors:
        for name, service in by_kind.get("Service", {}).items():
            monitor = monitors.get(name)
            ports = {port["name"] for port in service["spec"]["ports"]}
            if monitor is None:
                errors.append(f"Service/{name}: no ServiceMonitor")
            elif any(endpoint.get("port") not in ports for endpoint in monitor["spec"]["endpoints"]):
                errors.append(f"ServiceMonitor/{name}: scrapes a port Service/{name} does not have")
    return errors


def _caller_errors(by_kind: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Each gRPC service's NetworkPolicy admits exactly the callers the architecture names (if deployed)."""
    errors = []
    deployed = set(by_kind.get("Deployment", {}))
    for name, policy in by_kind.get("NetworkPolicy", {}).items():
        admitted = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in policy["spec"].get("ingress", [])
            if {"port": "grpc", "protocol": "TCP"} in rule.get("ports", [])
            for peer in rule.get("from", [])
        }
        expected = CALLERS.get(name, set()) & deployed
        if name in CALLERS and admitted != expected:
            errors.append(
                f"NetworkPolicy/{name}: admits gRPC from {sorted(admitted)}, architecture says {sorted(expected)}"
            )
        if any(
            rule.get("ports") == [{"port": "grpc", "protocol": "TCP"}] and not rule.get("from")
            for rule in policy["spec"].get("ingress", [])
        ):
            errors.append(f"NetworkPolicy/{name}: gRPC open to anyone")
    return errors


def promtool_binary() -> str:
    """promtool from $PROMTOOL or PATH (Debian's prometheus package; `make install` installs it)."""
    found = shutil.which(os.environ.get("PROMTOOL", "promtool"))
    if found is None:
        raise CheckFailed("promtool not found (run `make install`, which installs Debian's prometheus package)")
    return found


def check_rules() -> str:
    """`promtool check rules` on every alert rule file."""
    files = sorted(ALERT_RULES.glob("*.yaml"))
    if not files:
        raise CheckFailed(f"no rule files in {ALERT_RULES.relative_to(REPO)}")
    result = subprocess.run(
        [promtool_binary(), "check", "rules", *map(str, files)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise CheckFailed(result.stdout + result.stderr)
    alerts = sum(
        1
        for path in files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    )
    return f"{alerts} alerts in {len(files)} file(s)"


def check_rule_tests() -> str:
    """`promtool test rules`: every alert has a unit test, and they pass."""
    tests = sorted(ALERT_TESTS.glob("*.yaml"))
    if not tests:
        raise CheckFailed(f"no promtool tests in {ALERT_TESTS.relative_to(REPO)}")
    result = subprocess.run(
        [promtool_binary(), "test", "rules", *map(str, tests)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise CheckFailed(result.stdout + result.stderr)
    alerts = {
        rule["alert"]
        for path in ALERT_RULES.glob("*.yaml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tested = {
        case["alertname"]
        for path in tests
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    untested = sorted(alerts - tested)
    if untested:
        raise CheckFailed("alerts without a firing test: " + ", ".join(untested))
    return f"{len(tested)} alerts tested firing"


def check_runbook() -> str:
    """Every alert's runbook_url anchor is a section of RUNBOOK.md."""
    runbook = (CHART / "RUNBOOK.md").read_text()
    anchors = {line.lstrip("#").strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    missing = []
    for path in ALERT_RULES.glob("*.yaml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                url = rule.get("annotations", {}).get("runbook_url", "")
                if "alert" in rule and url.rsplit("#", 1)[-1] not in anchors:
                    missing.append(rule["alert"])
    if missing:
        raise CheckFailed("no RUNBOOK.md section for: " + ", ".join(missing))
    return f"{len(anchors)} sections"


def check_dashboards() -> str:
    """The dashboard JSON in the chart is what tools/dashboards generates."""
    expected = dashboards.files()
    present = {path.name for path in DASHBOARD_DIR.glob("*.json")}
    stale = sorted(n for n, text in expected.items() if n not in present or (DASHBOARD_DIR / n).read_text() != text)
    extra = sorted(present - expected.keys())
    if stale or extra:
        raise CheckFailed(f"stale dashboards: {', '.join(stale + extra)} (run `make dashboards`)")
    return f"{len(expected)} dashboards fresh"


def check_golden(name: str, rendered: str, update: bool) -> str:
    """Compare the rendering with its golden file, or rewrite the golden."""
    golden = GOLDEN_DIR / f"{name}.yaml"
    if update:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered)
        return f"wrote {golden.relative_to(REPO)}"
    if not golden.exists():
        raise CheckFailed(f"{golden.relative_to(REPO)} is missing (python -m tools.chart_check --update-golden)")
    expected = golden.read_text()
    if expected != rendered:
        diff = list(
            difflib.unified_diff(
                expected.splitlines(), rendered.splitlines(), f"golden/{name}.yaml", "rendered", lineterm=""
            )
        )
        shown = diff[:MAX_DIFF_LINES] + (
            [f"... {len(diff) - MAX_DIFF_LINES} more lines"] if len(diff) > MAX_DIFF_LINES else []
        )
        raise CheckFailed(
            "rendered output differs from the golden "
            "(if intended: python -m tools.chart_check --update-golden)\n" + "\n".join(shown)
        )
    return f"matches golden/{name}.yaml"


def check_stale_goldens(names: set[str], update: bool) -> str | None:
    """Every golden belongs to a CI values file."""
    stale = sorted(p for p in GOLDEN_DIR.glob("*.yaml") if p.stem not in names)
    if stale and update:
        for path in stale:
            path.unlink()
        return f"removed {', '.join(p.name for p in stale)}"
    if stale:
        raise CheckFailed(f"goldens without a ci/ values file: {', '.join(p.name for p in stale)}")
    return None


def check_rejected(what: str, values: dict[str, Any], expected: str) -> str:
    """`helm template` with values the chart must refuse fails, for the expected reason."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="crm-bad-values-") as handle:
        yaml.safe_dump(values, handle)
        handle.flush()
        result = helm("template", RELEASE, str(renderable_chart()), "--kube-version", KUBE_VERSION, "-f", handle.name)
    if result.returncode == 0:
        raise CheckFailed(f"helm template accepted {what}: {values}")
    if expected not in result.stderr:
        raise CheckFailed(f"helm template failed, but not with {expected!r}:\n{result.stderr}")
    return "rejected"


def documented_paths(schema: dict[str, Any]) -> list[str]:
    """Dotted value paths the README must describe: inline properties, services entries as <name>."""
    definitions = schema.get("$defs", {})
    paths: list[str] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, child in node.get("properties", {}).items():
            path = f"{prefix}{key}"
            if key == "services" and not prefix:
                entry = definitions[child["additionalProperties"]["$ref"].rsplit("/", 1)[-1]]
                walk(entry, "services.<name>.")
            elif "properties" in child:
                walk(child, f"{path}.")
            else:
                paths.append(path)

    walk(schema, "")
    return paths


def check_readme() -> str:
    """The chart README documents every value the schema allows, in the table generated from the schema."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    readme = (CHART / "README.md").read_text()
    paths = documented_paths(schema)
    missing = [path for path in paths if f"`{path}`" not in readme]
    if missing:
        raise CheckFailed("README.md does not document: " + ", ".join(missing))
    if chart_readme.render(readme) != readme:
        raise CheckFailed("README.md's values table is stale (run `make chart-readme`)")
    return f"{len(paths)} values documented, table fresh"


def check_skaffold() -> str:
    """skaffold.yaml builds the image the chart runs, from files that exist."""
    config = yaml.safe_load(SKAFFOLD.read_text())
    errors = []
    artifacts = config["build"]["artifacts"]
    for artifact in artifacts:
        dockerfile = REPO / artifact.get("context", ".") / artifact["docker"]["dockerfile"]
        if not dockerfile.is_file():
            errors.append(f"artifact {artifact['image']}: no {dockerfile.relative_to(REPO)}")
    releases = config["deploy"]["helm"]["releases"]
    for profile in config.get("profiles", []):
        for patch in profile.get("patches", []):
            if patch.get("path", "").endswith("/valuesFiles"):
                errors += [f"profile {profile['name']}: no {f}" for f in patch["value"] if not (REPO / f).is_file()]
    for release in releases:
        if (REPO / release["chartPath"]).resolve() != CHART:
            errors.append(f"release {release['name']}: chartPath is not {CHART.relative_to(REPO)}")
        templates = json.dumps(release.get("setValueTemplates", {}))
        for artifact in artifacts:
            key = artifact["image"].replace("-", "_").replace("/", "_").replace(".", "_")
            if f"IMAGE_REPO_{key}" not in templates or f"IMAGE_TAG_{key}" not in templates:
                errors.append(f"release {release['name']}: image {artifact['image']} not set from the build")
    if errors:
        raise CheckFailed("\n".join(errors))
    return f"{len(artifacts)} artifact(s), {len(releases)} release(s)"


def failed(failure: CheckFailed) -> Callable[[], str | None]:
    """A check that reports an earlier failure."""

    def check() -> str | None:
        raise failure

    return check


def check_values_file(report: Report, values: Path, update: bool) -> None:
    """Lint, render, validate and diff the chart with one CI values file."""
    name = values.stem
    report.run(f"{name}: helm lint", lambda: lint(values))
    try:
        rendered = render(values)
        documents = split_documents(rendered)
    except CheckFailed as failure:
        report.run(f"{name}: helm template", failed(failure))
        return
    report.run(f"{name}: kubernetes schemas", lambda: validate_documents(documents))
    report.run(f"{name}: chart invariants", lambda: check_invariants(documents))
    report.run(f"{name}: golden", lambda: check_golden(name, rendered, update))


def main(argv: list[str] | None = None) -> int:
    """Run every check; non-zero exit when any fails."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update-golden", action="store_true", help="rewrite the golden renderings")
    args = parser.parse_args(argv)
    report = Report()
    version = helm("version", "--short")
    print(
        f"helm {version.stdout.strip() or version.stderr.strip()} ({helm_binary()}), "
        f"kubernetes-validate {kubernetes_validate.__version__}, Kubernetes {KUBE_VERSION}"
    )
    values_files = sorted(CI_DIR.glob("*.yaml"))
    if not values_files:
        report.run("ci values files", failed(CheckFailed(f"no {CI_DIR.relative_to(REPO)}/*.yaml")))
    report.run("optional dependencies", lambda: check_dependencies(values_files))
    for values in values_files:
        check_values_file(report, values, args.update_golden)
    names = {values.stem for values in values_files}
    report.run("goldens match ci/ files", lambda: check_stale_goldens(names, args.update_golden))
    for what, values_content, expected in REJECTED_VALUES:
        report.run(f"rejects {what}", lambda v=values_content, w=what, e=expected: check_rejected(w, v, e))
    report.run("README documents every value", check_readme)
    report.run("promtool check rules", check_rules)
    report.run("promtool test rules", check_rule_tests)
    report.run("every alert has a runbook section", check_runbook)
    report.run("dashboards generated", check_dashboards)
    report.run("skaffold.yaml", check_skaffold)
    if report.failures:
        print(f"\n{len(report.failures)} check(s) failed: {', '.join(report.failures)}")
        return 1
    print("\nall chart checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
