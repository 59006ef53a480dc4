"""Write the dashboards into the chart (`make dashboards`), or fail when the files are stale (`--check`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.dashboards import files

OUT = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "crm" / "files" / "dashboards"


def main(argv: list[str] | None = None) -> int:
    """Render every dashboard; with --check compare instead of writing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a file differs from its definition")
    args = parser.parse_args(argv)
    expected = files()
    present = {path.name for path in OUT.glob("*.json")}
    if args.check:
        stale = sorted(
            name for name, text in expected.items() if not (OUT / name).is_file() or (OUT / name).read_text() != text
        )
        extra = sorted(present - expected.keys())
        if stale or extra:
            print(f"dashboards stale: {', '.join(stale + extra)} (run `make dashboards`)", file=sys.stderr)
            return 1
        print(f"{len(expected)} dashboards up to date in {OUT}")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in present - expected.keys():
        (OUT / name).unlink()
    for name, text in expected.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(expected)} dashboards to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
