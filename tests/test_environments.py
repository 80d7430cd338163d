"""The two install routes name the same packages, and the image that repo2docker
builds for Binder or a class JupyterHub installs the course and holds the data."""

import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
#: conda-forge names that differ from PyPI's
CONDA_TO_PIP = {"pytorch": "torch"}
#: conda-only entries: the interpreter, pip itself, and Node.js (npm fetches the data sets
#: offline; on the pip route it is a system package)
CONDA_ONLY = {"python", "pip", "nodejs"}


def _split(spec: str) -> tuple[str, str]:
    name, version = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*(#.*)?$", spec).group(1, 2)
    return name.lower(), version.replace(" ", "")


def _pip_requirements() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(_split(line) for line in lines if line.strip() and not line.lstrip().startswith("#"))


def _conda_environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            name, version = _split(entry.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=<>]", entry) else entry)
            out[CONDA_TO_PIP.get(name, name)] = version
    return out


def test_environment_yml_and_requirements_txt_name_the_same_packages_and_versions():
    pip, conda = _pip_requirements(), _conda_environment()
    conda = {k: v for k, v in conda.items() if k not in CONDA_ONLY}
    assert set(pip) == set(conda), (f"only in requirements.txt: {sorted(set(pip) - set(conda))}; "
                                    f"only in environment.yml: {sorted(set(conda) - set(pip))}")
    assert {k: v for k, v in pip.items() if conda[k] != v} == {}, "version ranges differ"


def test_the_library_dependencies_are_in_both_routes():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pip = _pip_requirements()
    for dep in deps:
        name, version = _split(dep)
        assert pip.get(name) == version, f"pyproject.toml asks {name}{version}, requirements.txt {pip.get(name)}"


def test_repo2docker_build_hook_installs_the_course_and_prepares_the_data():
    hook = ROOT / "postBuild"
    assert hook.is_file() and os.access(hook, os.X_OK), "postBuild must exist and be executable"
    commands = [line.strip() for line in hook.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert hook.read_text().startswith("#!") and commands[0].startswith("set -e"), "a failing step must fail the build"
    assert any("pip install" in c and "-e ." in c for c in commands)
    assert any(c.endswith("-m course_lib data prepare") for c in commands)
    # repo2docker installs environment.yml before it copies the repository: no "-e ." there
    pip_part = [d for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
                if isinstance(d, dict)]
    assert not any(entry.startswith("-e") for d in pip_part for entry in d["pip"])


def test_checkpoints_are_package_data():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "course_lib.pretrained" in config["packages"]
    patterns = [f"pretrained/{p}" for p in config["package-data"]["course_lib.pretrained"]]
    weights = sorted((ROOT / "course_lib" / "pretrained").glob("*.pt"))
    assert weights, "no pretrained weights in course_lib/pretrained/"
    for w in weights:
        for f in (w, w.with_suffix(".json")):
            assert any(f.relative_to(ROOT / "course_lib").match(p) for p in patterns), f"{f.name} is not package data"
