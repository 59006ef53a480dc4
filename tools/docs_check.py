"""The README's service table agrees with the code, and every relative link in the docs points at a file.

`python -m tools.docs_check` (part of `make lint`) compares each row of the service table in README.md with
what the code declares: the gRPC services its `ServiceDefinition` names, the subjects of its `ConsumerSpec`s,
and the events of the catalog (`crm_common/bus/catalog.py`) in its own `crm.<package>.*` namespace. It also
follows every relative Markdown link in README.md, CHANGELOG.md, docs/ and the service READMEs, anchors included,
checks that every field of a pydantic-settings class (its `CRM_*` variable) is named somewhere under docs/, and that
docs/benchmarks.md lists every runnable module of tools/bench.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CATALOG = Path("services/crm_common/bus/catalog.py")
# Rows of the table for processes that are not a ServiceDefinition: they serve no gRPC and touch no events.
EDGE_ROWS = {"gateway"}

GRPC_NAME = re.compile(r"^crm\.[a-z_]+\.v\d+\.[A-Z]\w*$")
SUBJECT = re.compile(r"^crm\.[a-z_]+\.[a-z_]+$")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)|^\[[^\]]+\]:\s*(?P<ref>\S+)", re.M)
CODE_SPAN = re.compile(r"`+[^`]*`+")


@dataclass
class Declared:
    """What one service's code declares."""

    name: str
    package: str
    grpc: set[str] = field(default_factory=set)
    consumes: set[str] = field(default_factory=set)
    emits: set[str] = field(default_factory=set)


@dataclass
class Row:
    """One row of the README's service table."""

    name: str
    link: str
    grpc: set[str]
    consumes: set[str]
    emits: set[str]


# ---------------------------------------------------------------- the code


def catalog_subjects(root: Path) -> set[str]:
    """The subjects of EVENT_TYPES in the event catalog."""
    tree = ast.parse((root / CATALOG).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "EVENT_TYPES" and isinstance(node.value, ast.Dict):
            keys = {_resolve_str(key, {}) for key in node.value.keys if key is not None}
            if None in keys:
                raise ValueError(f"{CATALOG}: EVENT_TYPES has a key that is not a string")
            return {key for key in keys if key}
    raise ValueError(f"{CATALOG}: no EVENT_TYPES dict")


def _sources(package_dir: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(package_dir.rglob("*.py")):
        if "tests" in path.relative_to(package_dir).parts or "migrations" in path.relative_to(package_dir).parts:
            continue
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _string_constants(modules: Iterable[ast.Module]) -> dict[str, str]:
    """Module-level NAME = "literal" assignments, by name."""
    constants: dict[str, str] = {}
    for module in modules:
        for node in module.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                value = node.value.value
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(value, str):
                        constants[target.id] = value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    constants[node.target.id] = node.value.value
    return constants


def _resolve_str(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Attribute):
        return constants.get(node.attr)
    return None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _string_collections(modules: Iterable[ast.Module], constants: dict[str, str]) -> dict[str, list[str]]:
    """Module-level NAME = literal dict (its keys), list, tuple or set of strings, by name."""
    found: dict[str, list[str]] = {}
    for module in modules:
        for node in module.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, ast.Dict):
                elements = [key for key in value.keys if key is not None]
            elif isinstance(value, ast.List | ast.Tuple | ast.Set):
                elements = list(value.elts)
            else:
                continue
            strings = [_resolve_str(element, constants) for element in elements]
            if elements and None not in strings:
                for target in targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = [string for string in strings if string is not None]
    return found


def _iterated(
    iterable: ast.expr, collections: dict[str, list[str]]
) -> tuple[list[ast.expr] | list[str], bool] | None:
    """What a loop walks, and whether it walks `.items()`: a literal sequence's nodes, or a named collection's strings."""
    if isinstance(iterable, ast.Tuple | ast.List | ast.Set):
        return list(iterable.elts), False
    items = False
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute) and not iterable.args:
        if iterable.func.attr in ("keys", "items"):
            items = iterable.func.attr == "items"
            iterable = iterable.func.value
    name = iterable.id if isinstance(iterable, ast.Name) else iterable.attr if isinstance(iterable, ast.Attribute) else ""
    return (list(collections[name]), items) if name in collections else None


def _loop_values(
    name: ast.Name, parents: dict[ast.AST, ast.AST], constants: dict[str, str], collections: dict[str, list[str]]
) -> list[str] | None:
    """Values a loop variable takes over a literal sequence (of tuples, when it unpacks) or a named literal
    collection (a dict's keys, also as the first name of `for key, value in D.items()`)."""
    node: ast.AST | None = name
    while node is not None:
        node = parents.get(node)
        loops: list[ast.comprehension | ast.For] = []
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            loops = list(node.generators)
        elif isinstance(node, ast.For):
            loops = [node]
        for loop in loops:
            target = loop.target
            walked = _iterated(loop.iter, collections)
            if walked is None:
                continue
            elements, items = walked
            values: list[str | None]
            if items:
                if not (isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[0], ast.Name)):
                    continue
                if target.elts[0].id != name.id:
                    continue
                values = [e if isinstance(e, str) else None for e in elements]
            elif isinstance(target, ast.Name) and target.id == name.id:
                values = [e if isinstance(e, str) else _resolve_str(e, constants) for e in elements]
            elif isinstance(target, ast.Tuple):
                names = [t.id if isinstance(t, ast.Name) else None for t in target.elts]
                if name.id not in names:
                    continue
                index = names.index(name.id)
                values = [
                    _resolve_str(e.elts[index], constants) if isinstance(e, ast.Tuple) and len(e.elts) > index else None
                    for e in elements
                ]
            else:
                continue
            return None if None in values else [value for value in values if value is not None]
    return None


def _parameter_values(
    name: ast.Name, parents: dict[ast.AST, ast.AST], modules: list[ast.Module], constants: dict[str, str]
) -> list[str] | None:
    """Values a parameter takes when its function builds the ConsumerSpec: the argument of every call in the package."""
    node: ast.AST | None = name
    while node is not None and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node = parents.get(node)
    if node is None:
        return None
    params = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
    keyword_only = [a.arg for a in node.args.kwonlyargs]
    if name.id not in params and name.id not in keyword_only:
        return None
    index = params.index(name.id) if name.id in params else None
    values: list[str] = []
    for module in modules:
        for call in ast.walk(module):
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called != node.name:
                continue
            arg = next((kw.value for kw in call.keywords if kw.arg == name.id), None)
            if arg is None and index is not None and index < len(call.args):
                arg = call.args[index]
            value = _resolve_str(arg, constants) if arg is not None else None
            if value is None:
                return None
            values.append(value)
    return values or None


def consumer_subjects(package_dir: Path, shared_constants: dict[str, str]) -> tuple[set[str], list[str]]:
    """Subjects of every ConsumerSpec a service package builds, and the calls whose subject could not be read."""
    sources = list(_sources(package_dir))
    constants = {**shared_constants, **_string_constants(module for _, module in sources)}
    collections = _string_collections([module for _, module in sources], constants)
    subjects: set[str] = set()
    unresolved: list[str] = []
    for path, module in sources:
        parents = _parents(module)
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called != "ConsumerSpec":
                continue
            arg = next((kw.value for kw in node.keywords if kw.arg == "subject"), None)
            if arg is None and len(node.args) > 1:
                arg = node.args[1]
            value = _resolve_str(arg, constants) if arg is not None else None
            values = [value] if value is not None else None
            if values is None and isinstance(arg, ast.Name):
                values = _loop_values(arg, parents, constants, collections)
            if values is None and isinstance(arg, ast.Name):
                values = _parameter_values(arg, parents, [m for _, m in sources], constants)
            if values is None:
                unresolved.append(f"{path.relative_to(package_dir.parent.parent)}:{node.lineno}")
            else:
                subjects.update(values)
    return subjects, unresolved


def _definition(app: Path) -> tuple[str, list[str]] | None:
    """(name, grpc_services) of the ServiceDefinition in an app.py."""
    for node in ast.walk(ast.parse(app.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "ServiceDefinition":
            keywords = {kw.arg: kw.value for kw in node.keywords}
            name = _resolve_str(keywords.get("name", ast.Constant(None)), {})
            grpc = keywords.get("grpc_services")
            if name is None or not isinstance(grpc, ast.List | ast.Tuple):
                raise ValueError(f"{app}: ServiceDefinition needs a literal name and a literal grpc_services list")
            services = [_resolve_str(element, {}) for element in grpc.elts]
            if None in services:
                raise ValueError(f"{app}: grpc_services must list string literals")
            return name, [s for s in services if s]
    return None


def declared_services(root: Path) -> tuple[dict[str, Declared], list[str]]:
    """Every service under services/ as its code declares it, and the problems found reading it."""
    subjects = catalog_subjects(root)
    shared = {}
    for _, module in _sources(root / "services" / "crm_common"):
        shared.update(_string_constants([module]))
    services: dict[str, Declared] = {}
    problems: list[str] = []
    for app in sorted((root / "services").glob("*/app.py")):
        definition = _definition(app)
        if definition is None:
            continue
        name, grpc = definition
        package_dir = app.parent
        declared = Declared(name=name, package=package_dir.name, grpc=set(grpc))
        consumes, unresolved = consumer_subjects(package_dir, shared)
        problems += [f"{where}: cannot tell which subject this ConsumerSpec consumes" for where in unresolved]
        problems += [
            f"{name}: consumes {subject}, which is not in {CATALOG}" for subject in sorted(consumes - subjects)
        ]
        declared.consumes = consumes & subjects
        namespaces = {g.split(".")[1] for g in grpc if GRPC_NAME.match(g)}
        declared.emits = {s for s in subjects if s.split(".")[1] in namespaces}
        services[name] = declared
    owned = set().union(*(d.emits for d in services.values())) if services else set()
    problems += [f"{subject}: no service's gRPC package owns this namespace" for subject in sorted(subjects - owned)]
    return services, problems


# ---------------------------------------------------------------- the README


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def service_table(readme: str) -> list[Row]:
    """Rows of the first table whose header has service, gRPC, consumes and emits columns."""
    lines = readme.splitlines()
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            continue
        header = [cell.lower() for cell in _cells(line)]
        wanted = ("service", "grpc", "consumes", "emits")
        if not all(column in header for column in wanted):
            continue
        at = {column: header.index(column) for column in wanted}
        rows = []
        for body in lines[i + 2 :]:
            if not body.lstrip().startswith("|"):
                break
            cells = _cells(body)
            if len(cells) != len(header):
                raise ValueError(f"service table row has {len(cells)} cells, the header {len(header)}: {body}")
            link = re.search(r"\[`?([^`\]]+)`?\]\(([^)]+)\)", cells[at["service"]])
            if link is None:
                raise ValueError(f"service table: the service cell must link to its README: {body}")
            rows.append(
                Row(
                    name=link.group(1).strip("/"),
                    link=link.group(2),
                    grpc={t for t in _ticked(cells[at["grpc"]]) if GRPC_NAME.match(t)},
                    consumes={t for t in _ticked(cells[at["consumes"]]) if SUBJECT.match(t)},
                    emits={t for t in _ticked(cells[at["emits"]]) if SUBJECT.match(t)},
                )
            )
        return rows
    raise ValueError("README.md has no table with service, gRPC, consumes and emits columns")


def _diff(label: str, row: str, table: set[str], code: set[str]) -> list[str]:
    problems = [f"{row}: the table's {label} column lists {item}, the code does not" for item in sorted(table - code)]
    problems += [f"{row}: the code {label} {item}, the table's column does not list it" for item in sorted(code - table)]
    return problems


def compare(rows: list[Row], services: dict[str, Declared]) -> list[str]:
    """Every difference between the table and the code, one line each."""
    problems: list[str] = []
    seen: set[str] = set()
    for row in rows:
        seen.add(row.name)
        if row.name in EDGE_ROWS:
            if row.grpc or row.consumes or row.emits:
                problems.append(f"{row.name}: the edge serves no gRPC and touches no events, but its row names some")
            if Path(row.link).parts[:1] != (row.name,):
                problems.append(f"{row.name}: links to {row.link}, expected {row.name}/README.md")
            continue
        declared = services.get(row.name)
        if declared is None:
            problems.append(f"{row.name}: in the table, but no services/*/app.py defines a service of that name")
            continue
        if row.link != f"services/{declared.package}/README.md":
            problems.append(f"{row.name}: links to {row.link}, expected services/{declared.package}/README.md")
        problems += _diff("gRPC", row.name, row.grpc, declared.grpc)
        problems += _diff("consumes", row.name, row.consumes, declared.consumes)
        problems += _diff("emits", row.name, row.emits, declared.emits)
    problems += [f"{name}: defined in the code, missing from the table" for name in sorted(set(services) - seen)]
    return problems


# ---------------------------------------------------------------- settings


def settings_variables(root: Path) -> dict[str, str]:
    """CRM_* variable of every field of every pydantic-settings class, with the class that declares it."""
    classes: dict[str, ast.ClassDef] = {}
    for path in [*sorted((root / "services").rglob("*.py")), *sorted((root / "gateway").rglob("*.py"))]:
        if "tests" in path.parts or path.is_relative_to(root / "services" / "crm"):
            continue
        text = path.read_text(encoding="utf-8")
        if "Settings" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, node)
    settings = {"BaseSettings"}
    grew = True
    while grew:
        before = len(settings)
        for name, node in classes.items():
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
            if bases & settings:
                settings.add(name)
        grew = len(settings) != before
    variables: dict[str, str] = {}
    for name in sorted(settings - {"BaseSettings"}):
        for item in classes[name].body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                field_name = item.target.id
                if field_name != "model_config" and "ClassVar" not in ast.unparse(item.annotation):
                    variables.setdefault(f"CRM_{field_name.upper()}", name)
    return variables


def undocumented_settings(root: Path) -> list[str]:
    """Settings no page under docs/ names."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted((root / "docs").rglob("*.md")))
    named = set(re.findall(r"CRM_[A-Z0-9_]*[A-Z0-9]", text))
    return [
        f"{variable} ({owner}) is named in no page under docs/ (add it to docs/configuration.md)"
        for variable, owner in sorted(settings_variables(root).items())
        if variable not in named
    ]


def unlisted_benchmarks(root: Path) -> list[str]:
    """Runnable modules of tools/bench (a `__main__` guard) that docs/benchmarks.md does not list."""
    table = root / "docs" / "benchmarks.md"
    listed = table.read_text(encoding="utf-8") if table.is_file() else ""
    return [
        f"tools/bench/{path.name} is a benchmark docs/benchmarks.md does not list (`{path.stem}`)"
        for path in sorted((root / "tools" / "bench").glob("*.py"))
        if '__name__ == "__main__"' in path.read_text(encoding="utf-8") and f"`{path.stem}`" not in listed
    ]


# ---------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    kept = "".join(ch for ch in text if ch in " -" or unicodedata.category(ch)[0] in "LN" or ch == "_")
    return kept.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Anchors of every heading of a Markdown text (repeated headings get -1, -2, ...)."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in _outside_fences(markdown):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = _slug(match.group(1))
            n = counts.get(slug, 0)
            counts[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def _outside_fences(markdown: str) -> Iterator[str]:
    fence = None
    for line in markdown.splitlines():
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        yield line


def links(markdown: str) -> Iterator[str]:
    """Link targets of a Markdown text, outside code blocks and code spans."""
    for line in _outside_fences(markdown):
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            yield match.group("target") or match.group("ref")


def broken_links(root: Path, files: Iterable[Path]) -> list[str]:
    """Relative links (and their anchors) that point at nothing."""
    problems = []
    for path in files:
        for target in links(path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = path.relative_to(root)
            if not dest.exists():
                problems.append(f"{where}: link to {target}: no such file")
            elif anchor and dest.is_file() and dest.suffix == ".md" and anchor not in anchors(dest.read_text("utf-8")):
                problems.append(f"{where}: link to {target}: no heading with that anchor")
    return problems


def doc_files(root: Path) -> list[Path]:
    """README.md, CHANGELOG.md, docs/**/*.md and the READMEs of services/ and gateway/."""
    files = [root / "README.md", root / "CHANGELOG.md", *sorted((root / "docs").rglob("*.md"))]
    files += [root / "services" / "README.md", *sorted((root / "services").glob("*/README.md"))]
    files.append(root / "gateway" / "README.md")
    return [path for path in files if path.is_file()]


def check(root: Path = REPO_ROOT) -> list[str]:
    """Every problem in the docs of the tree at root."""
    services, problems = declared_services(root)
    problems += compare(service_table((root / "README.md").read_text(encoding="utf-8")), services)
    return problems + undocumented_settings(root) + unlisted_benchmarks(root) + broken_links(root, doc_files(root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs_check", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    args = parser.parse_args(argv)
    try:
        problems = check(args.root.resolve())
    except ValueError as error:
        problems = [str(error)]
    for problem in problems:
        sys.stderr.write(f"docs_check: {problem}\n")
    if not problems:
        sys.stdout.write("docs_check: service table, settings and links agree with the code\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
