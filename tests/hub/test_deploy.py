"""The Zero to JupyterHub deployment (deploy/): values the chart accepts, an image like the one-server hub's.

``helm`` validates the chart's default values merged with ours against the
chart's values schema before it renders anything; this does the same
offline, with the schema and defaults of chart 4.4.0 vendored in
``fixtures/z2jh-4.4.0/`` (provenance in its README).
"""

from __future__ import annotations

import copy
import functools
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from course_tools.catalog import REPO_ROOT
from course_tools.hub import environment

CHART = Path(__file__).resolve().parent / "fixtures" / "z2jh-4.4.0"
VALUES = REPO_ROOT / "deploy" / "z2jh" / "values.yaml"
DOCKERFILE = REPO_ROOT / "deploy" / "singleuser" / "Dockerfile"


@functools.cache
def _parsed(path: Path) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the 130 kB schema in 0.1 s, not 2 s
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)


def load(path: Path) -> dict:
    return copy.deepcopy(_parsed(path))


def helm_merge(defaults: dict, values: dict) -> dict:
    """Helm's coalescing of user values into chart defaults: maps merge key by
    key, anything else replaces, and null removes the default."""
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def errors(values: dict) -> list[str]:
    schema = load(CHART / "values.schema.yaml")
    validator = jsonschema.Draft7Validator(schema)
    merged = helm_merge(load(CHART / "values.yaml"), values)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(merged)]


def bytes_of(quantity: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]?)", str(quantity)).groups()
    return float(number) * 1024 ** " KMGT".index(unit or " ")


def test_values_validate_against_the_charts_schema() -> None:
    assert errors(load(VALUES)) == []


def test_the_schema_check_catches_mistakes() -> None:
    values = load(VALUES)
    misspelt = copy.deepcopy(values)
    misspelt["singleuser"]["memroy"] = misspelt["singleuser"].pop("memory")
    wrong_type = copy.deepcopy(values)
    wrong_type["cull"]["timeout"] = "an hour"
    assert any("memroy" in e for e in errors(misspelt))
    assert any(e.startswith("cull.timeout") for e in errors(wrong_type))


def test_values_give_students_the_course_setup() -> None:
    values = load(VALUES)
    single = values["singleuser"]
    assert single["defaultUrl"] == "/lab"
    assert single["image"]["name"] != "quay.io/jupyterhub/k8s-singleuser-sample"  # the course's image
    memory = single["memory"]
    # the whole class peaks together: the largest kernel of Chapter01-05 (MDC, 1,621 MB in the README's
    # capacity table, 2026-12-02) and a server (160 MB) must fit the guarantee
    assert bytes_of(memory["guarantee"]) >= (1621 + 160) * 1024**2
    assert bytes_of(memory["limit"]) >= bytes_of(memory["guarantee"])
    assert single["cpu"]["limit"] >= single["cpu"]["guarantee"] > 0
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 3600
    config = values["hub"]["config"]
    assert config["Authenticator"]["admin_users"] and config["Authenticator"]["allowed_users"]


def test_the_image_runs_the_charts_jupyterhub_and_the_hubs_pins() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    chart = load(CHART / "Chart.yaml")
    assert re.search(rf"^ARG JUPYTERHUB_VERSION={re.escape(chart['appVersion'])}$", text, re.MULTILINE)
    assert "course_tools.hub.environment requirements" in text and "pip install" in text
    # what that command prints: every pin of the one-server hub, with the chart's JupyterHub
    printed = subprocess.run(
        [sys.executable, "-m", "course_tools.hub.environment", "requirements", "--jupyterhub", chart["appVersion"]],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    expected = [f"jupyterhub=={chart['appVersion']}" if p.startswith("jupyterhub==") else p
                for p in environment.requirements()]
    assert printed == expected
    assert any(p.startswith("tensorflow-cpu==") for p in printed)
    assert any(p.startswith("nbgitpuller==") for p in printed)
    # every file the Dockerfile copies exists
    for source in re.findall(r"^COPY (\S+) ", text, re.MULTILINE):
        assert (REPO_ROOT / source).exists(), source


@pytest.mark.parametrize("path", [VALUES, DOCKERFILE])
def test_deploy_files_say_how_to_use_them(path: Path) -> None:
    head = path.read_text(encoding="utf-8").splitlines()[:12]
    assert any("helm" in line or "docker build" in line for line in head)
