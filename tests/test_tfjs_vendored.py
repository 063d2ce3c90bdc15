"""TensorFlow.js ships with the course as npm's pinned file, with its licences.

``tfbook_utils/tfjs/SHA256SUMS`` is written by ``python -m
course_tools.tfjs_vendor`` right after ``npm ci`` of the shipped lock;
these checks run offline.  (``--check`` repeats the ``npm ci`` and
compares, for a maintainer with the npm registry at hand.)
"""

from __future__ import annotations

import json
import re
import tomllib

from course_tools import tfjs_vendor
from course_tools.catalog import REPO_ROOT

FOLDER = tfjs_vendor.FOLDER


def test_tfjs_bundle_is_the_one_npm_ci_gave_for_the_lock() -> None:
    sums = tfjs_vendor.recorded()
    assert tfjs_vendor.sha256(FOLDER / tfjs_vendor.BUNDLE) == sums[tfjs_vendor.BUNDLE]
    assert sums["#version"] == tfjs_vendor.locked_version() == "4.22.0"
    # the bundle says so itself (tf.version.tfjs)
    assert re.search(rb'"4\.22\.0"', (FOLDER / tfjs_vendor.BUNDLE).read_bytes())


def test_tfjs_is_pinned_exactly_with_integrity_for_every_package() -> None:
    package = json.loads((FOLDER / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"] == {"@tensorflow/tfjs": "4.22.0"}  # exact, no ^ or ~
    lock = json.loads((FOLDER / "package-lock.json").read_text(encoding="utf-8"))
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert len(packages) > 10
    assert all(re.fullmatch(r"sha512-[A-Za-z0-9+/=]+", p.get("integrity", "")) for p in packages.values())
    tensorflow = {k: v["version"] for k, v in packages.items() if re.fullmatch(r"node_modules/@tensorflow/[^/]+", k)}
    assert set(tensorflow.values()) == {"4.22.0"}, tensorflow


def test_tfjs_licences_ship_beside_it_and_in_the_package() -> None:
    apache = (FOLDER / "LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
    assert "Apache License" in apache and "Version 2.0" in apache and len(apache) > 10_000
    mit = (FOLDER / "LICENSE-MIT.txt").read_text(encoding="utf-8")
    assert "seedrandom" in mit and "Permission is hereby granted" in mit
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "tfjs/*" in data["tool"]["setuptools"]["package-data"]["tfbook_utils"]
