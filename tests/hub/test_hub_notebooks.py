"""Committed notebooks carry the kernel metadata the course's kernel writes.

JupyterLab writes the kernel's name, display name and language into a
notebook's ``kernelspec`` when it connects the kernel, and marks the notebook
changed if they differ (JSON deep equality).  With the metadata as the kernel
writes it, a notebook a student merely opens under the hub is not "changed":
no "save changes?" on closing it, and nbgitpuller has no spurious commit to merge.
"""

from __future__ import annotations

import json

from jupyter_client.kernelspec import KernelSpecManager

from course_tools import catalog


def test_hub_notebooks_carry_the_kernelspec_the_courses_kernel_writes() -> None:
    spec = KernelSpecManager().get_kernel_spec("python3")  # ipykernel's, as installed in the course's environment
    wanted = {"name": "python3", "display_name": spec.display_name, "language": spec.language}
    assert wanted["display_name"] == "Python 3 (ipykernel)"
    notebooks = sorted((catalog.REPO_ROOT / "chapters").glob("*/*.ipynb"))
    assert len(notebooks) >= len(catalog.COURSE)
    wrong = {path.name: json.loads(path.read_text(encoding="utf-8"))["metadata"].get("kernelspec")
             for path in notebooks}
    assert {name: found for name, found in wrong.items() if found != wanted} == {}
