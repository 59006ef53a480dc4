"""Generate the Python contracts (with .pyi stubs) from proto/ into one package, or check they are fresh."""

from __future__ import annotations

import argparse
import filecmp
import importlib.resources
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"


def generate(out: Path) -> None:
    """Run protoc over every .proto file, writing *_pb2.py, *_pb2.pyi and *_pb2_grpc.py under out."""
    out.mkdir(parents=True, exist_ok=True)
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    files = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # The generated tree mirrors proto/ ("crm/lead/v1/..."); make every level a regular package.
    for directory in [out / "crm", *sorted((out / "crm").rglob("*"))]:
        if directory.is_dir():
            (directory / "__init__.py").touch()


def diff_trees(left: Path, right: Path) -> list[str]:
    """Return the relative paths that differ between two generated trees."""
    names = {p.relative_to(left) for p in left.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    names |= {p.relative_to(right) for p in right.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    return sorted(
        str(n)
        for n in names
        if not (left / n).is_file() or not (right / n).is_file() or not filecmp.cmp(left / n, right / n, False)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the generated package's parent directory here")
    group.add_argument("--check", type=Path, help="fail when this committed tree is stale")
    args = parser.parse_args()
    if args.out:
        generate(args.out.parent if args.out.name == "crm" else args.out)
        return 0
    committed = args.check
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = diff_trees(Path(tmp) / "crm", committed)
    if stale:
        print("generated code is stale; run `make proto` and commit. Differs:", *stale, sep="\n  ", file=sys.stderr)
        return 1
    print(f"generated code in {committed} is fresh")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
