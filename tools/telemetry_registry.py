"""Check that services/crm_common/telemetry_registry.yaml agrees with the code, or refresh it.

The registry lists every custom metric (name as exposed, type, labels, help, which services export it)
and every span attribute the code sets. The check imports crm_common.metrics and reads prometheus_client's
REGISTRY, scans the sources for span attributes, and compares; it also fails when a dashboard panel or an
alert uses a crm_ metric the registry does not know.

    python -m tools.telemetry_registry            # check
    python -m tools.telemetry_registry --update   # refresh names, types, labels and help from the code
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

REPO = Path(__file__).resolve().parent.parent
REGISTRY_FILE = REPO / "services" / "crm_common" / "telemetry_registry.yaml"
SOURCES = (REPO / "services", REPO / "gateway")
ALERTS = REPO / "deploy" / "helm" / "crm" / "files" / "alerts"
GRPC_SERVICES = ["lead", "customer-master", "pipeline", "notification", "integration-gateway", "reporting"]
METRIC_NAME = re.compile(r"\b(crm_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def code_metrics() -> dict[str, dict[str, Any]]:
    """Every crm_ metric registered by crm_common.metrics, as exposed (counters with _total)."""
    import crm_common.metrics  # noqa: F401  (registers the metrics)

    found: dict[str, dict[str, Any]] = {}
    collectors = set(REGISTRY._names_to_collectors.values())  # the registry's public API only yields samples
    for collector in collectors:
        if not isinstance(collector, MetricWrapperBase) or not collector._name.startswith("crm_"):
            continue
        name = collector._name + ("_total" if collector._type == "counter" else "")
        found[name] = {
            "type": collector._type,
            "labels": list(collector._labelnames),
            "help": collector._documentation,
        }
    return dict(sorted(found.items()))


def code_attributes() -> set[str]:
    """Span attribute keys the services and the gateway set: `attributes={...}` and `set_attribute("...")`."""
    keys: set[str] = set()
    generated = REPO / "services" / "crm"
    for root in SOURCES:
        for path in root.rglob("*.py"):
            if "tests" in path.parts or path.is_relative_to(generated):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                if isinstance(node.func, ast.Attribute) and node.func.attr in {"set_attribute", "set_attributes"}:
                    first = node.args[0] if node.args else None
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        keys.add(first.value)
                    elif isinstance(first, ast.Dict):
                        keys.update(_string_keys(first))
                for keyword in node.keywords:
                    if keyword.arg == "attributes" and isinstance(keyword.value, ast.Dict):
                        keys.update(_string_keys(keyword.value))
    return keys


def _string_keys(mapping: ast.Dict) -> set[str]:
    return {k.value for k in mapping.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def used_metrics() -> dict[str, set[str]]:
    """crm_ metric names the dashboards and the alert rules query, with where."""
    from tools.dashboards import DASHBOARDS

    used: dict[str, set[str]] = {}
    exprs = [(f"dashboard {d.uid}", q.expr) for d in DASHBOARDS for p in d.panels for q in p.queries]
    for path in ALERTS.glob("*.yaml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs += [
                (f"alert {rule.get('alert') or rule.get('record')}", str(rule["expr"])) for rule in group["rules"]
            ]
    for where, expr in exprs:
        for name in METRIC_NAME.findall(expr):
            for suffix in SUFFIXES:
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
                    break
            used.setdefault(name, set()).add(where)
    return used


def exporters_of(constant: str) -> list[str]:
    """Which processes use a metric constant of crm_common.metrics (crm_common: every gRPC service)."""
    users: set[str] = set()
    pattern = re.compile(rf"\b{constant}\b")
    for root in SOURCES:
        for path in root.rglob("*.py"):
            if "tests" in path.parts or path.name == "metrics.py" or not pattern.search(path.read_text()):
                continue
            top = path.relative_to(REPO).parts
            if top[0] == "gateway":
                users.add("gateway")
            elif top[1] == "crm_common":
                users.update(GRPC_SERVICES)
            else:
                users.add(top[1].replace("_", "-"))
    return sorted(users)


def load() -> dict[str, Any]:
    """The registry file."""
    return yaml.safe_load(REGISTRY_FILE.read_text())


def check() -> list[str]:
    """Differences between the registry and the code (empty when they agree)."""
    registry = load()
    errors: list[str] = []
    declared = {entry["name"]: entry for entry in registry["metrics"]}
    actual = code_metrics()
    for name in sorted(actual.keys() - declared.keys()):
        errors.append(f"metric {name} is in crm_common/metrics.py but not in the registry")
    for name in sorted(declared.keys() - actual.keys()):
        errors.append(f"metric {name} is in the registry but not in crm_common/metrics.py")
    for name in sorted(actual.keys() & declared.keys()):
        entry = declared[name]
        for key in ("type", "labels", "help"):
            if entry.get(key) != actual[name][key]:
                errors.append(f"metric {name}: registry {key} {entry.get(key)!r}, code {actual[name][key]!r}")
        if not entry.get("exported_by"):
            errors.append(f"metric {name}: exported_by is empty")
        if not re.fullmatch(r"crm_[a-z0-9_]+", name):
            errors.append(f"metric {name}: not a crm_ snake_case name")
        unit_suffix = name.removesuffix("_total").rsplit("_", 1)[-1]
        if entry["type"] == "histogram" and unit_suffix != "seconds":
            errors.append(f"metric {name}: a duration histogram must end in _seconds")
    registered_attributes = {entry["name"] for entry in registry["span_attributes"]}
    for key in sorted(code_attributes() - registered_attributes):
        errors.append(f"span attribute {key} is set in code but not in the registry")
    for name, places in sorted(used_metrics().items()):
        exposed = {n.removesuffix("_total") for n in declared} | set(declared)
        if name not in exposed:
            errors.append(f"{', '.join(sorted(places))} query {name}, which the registry does not list")
    return errors


def update() -> None:
    """Refresh the registry's metric entries from the code, keeping exported_by and the attributes."""
    registry = load()
    declared = {entry["name"]: entry for entry in registry["metrics"]}
    import crm_common.metrics as metrics_module

    constants = {
        (obj._name + ("_total" if obj._type == "counter" else "")): name
        for name, obj in vars(metrics_module).items()
        if isinstance(obj, MetricWrapperBase)
    }
    refreshed = []
    for name, actual in code_metrics().items():
        exported = declared.get(name, {}).get("exported_by") or exporters_of(constants.get(name, ""))
        refreshed.append({"name": name, **actual, "exported_by": exported})
    registry["metrics"] = refreshed
    header = "".join(line + "\n" for line in REGISTRY_FILE.read_text().splitlines() if line.startswith("#"))
    body = yaml.safe_dump(registry, sort_keys=False, allow_unicode=True, width=120, default_flow_style=None)
    REGISTRY_FILE.write_text(header + body)


def main(argv: list[str] | None = None) -> int:
    """Check, or update then check."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args(argv)
    if args.update:
        update()
    errors = check()
    if errors:
        print("telemetry registry disagrees with the code:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    registry = load()
    print(
        f"telemetry registry: {len(registry['metrics'])} metrics and "
        f"{len(registry['span_attributes'])} span attributes agree with the code"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
