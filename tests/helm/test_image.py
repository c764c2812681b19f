"""The image the chart runs: built from every package the project installs, as the user the chart's pods
run as. (Docker is not needed: these read the Dockerfile, .dockerignore and pyproject.toml.)"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from tests.helm.chart import scenario

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _runtime_stage() -> str:
    return DOCKERFILE[DOCKERFILE.index("AS runtime") :]


def _dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent directories decides."""
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def _installed_packages() -> list[str]:
    """The top-level packages pyproject.toml installs."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    tops = {p.rstrip("*").rstrip(".") for p in patterns}
    return sorted(t for t in tops if (ROOT / t / "__init__.py").exists())


def test_the_image_runs_as_the_user_the_pods_run_as() -> None:
    runtime = _runtime_stage()
    uid = int(re.search(r"^ARG UID=(\d+)$", runtime, re.M).group(1))
    assert re.search(r"^USER \$\{UID\}:\$\{UID\}$", runtime, re.M)
    assert uid > 0
    pod = scenario("default").pod("broker")
    security = pod.spec["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"], security["fsGroup"]) == (uid, uid, uid)


def test_the_image_serves_the_data_directory_the_chart_mounts() -> None:
    assert "VERBUND_DATA_DIR=/data" in _runtime_stage()
    manifests = scenario("default")
    assert manifests.get("ConfigMap", "demo-verbund-config")["data"]["VERBUND_DATA_DIR"] == "/data"
    mounts = manifests.pod("agents").container("agents")["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in mounts


def test_every_installed_package_is_in_the_build_context_and_copied() -> None:
    """A package left out of the image is an ImportError in the pod."""
    packages = _installed_packages()
    assert {"verbund", "broker_adapter", "agents"} <= set(packages)
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", DOCKERFILE, re.M), (
            f"Dockerfile does not copy {package}"
        )
        files = [f for f in tracked if f.startswith(package + "/")]
        assert files and not any(_dockerignore_excludes(f) for f in files), package
    for needed in ("pyproject.toml", "README.md"):  # pyproject names README.md as the readme
        assert not _dockerignore_excludes(needed)
    for left_out in (
        "tests/conftest.py",
        "bench/__main__.py",
        "data/verbund.db",
        ".git/HEAD",
        "helm/verbund/Chart.yaml",
    ):
        assert _dockerignore_excludes(left_out), left_out
    assert _dockerignore_excludes("verbund/__pycache__/cli.cpython-311.pyc")


def _glob(pattern: str) -> str:
    return re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")


def test_every_file_the_services_read_is_packaged() -> None:
    """The image holds what `pip install .` installs: a template, stylesheet or schema that no
    package-data pattern names is missing in the pod (and in every other installation)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    missing = []
    for path in tracked.split():
        parts = path.split("/")
        if parts[0] not in _installed_packages() or path.endswith(".py"):
            continue
        # setuptools matches a package's patterns (and the "*" ones) against paths inside the package
        packages = [
            n for n in range(len(parts) - 1, 0, -1) if (ROOT.joinpath(*parts[:n]) / "__init__.py").exists()
        ]
        if not any(
            re.fullmatch(_glob(pattern), "/".join(parts[n:]))
            for n in packages
            for pattern in package_data.get(".".join(parts[:n]), []) + package_data.get("*", [])
        ):
            missing.append(path)
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


def test_the_runtime_image_carries_no_build_tools() -> None:
    runtime = _runtime_stage()
    assert "pip install" not in runtime and "apt-get" not in runtime
    assert "COPY --from=build /opt/verbund /opt/verbund" in runtime
    assert 'ENTRYPOINT ["verbund"]' in runtime
