"""What was measured, and on what: machine facts and the code's origin."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import xerotier
from bench.procs import ROOT


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": models[0] if models else platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": (version.stdout or version.stderr).split("Copyright")[0].strip(),
        "loadavg_at_start": loadavg(),
    }


def code(ref: str | None) -> dict[str, Any]:
    """Which xerotier was measured: a commit (``--ref``) or this checkout's working tree."""
    if ref is not None:
        return {"git_commit": ref, "working_tree": False}
    git = ["git", "-C", str(ROOT), "--no-optional-locks"]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    status = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True)
    return {
        "git_commit": head.stdout.strip() or None,
        "working_tree": True,
        "src_modified": bool(status.stdout.strip()),
        "package": str(Path(xerotier.__file__).parent),
    }


def export(ref: str, into: Path) -> tuple[str, Path]:
    """Extract ``src/`` of a commit (read-only ``git archive``); return (commit id, its src path)."""
    git = ["git", "-C", str(ROOT)]
    verify = [*git, "rev-parse", "--verify", f"{ref}^{{commit}}"]
    commit = subprocess.run(verify, capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run(
        [*git, "archive", "--format=tar", commit, "src"], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return commit, into / "src"
