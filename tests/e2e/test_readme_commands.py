"""The README's two commands exist and the start command's set-up path works."""

from __future__ import annotations

import subprocess

from tests.support.processes import ROOT, clean_env


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./scripts/serve" in readme and "./scripts/test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec ./scripts/test" in ci  # CI runs exactly the README's test command


def test_serve_script_installs_and_reaches_the_cli() -> None:
    # The same path as `./scripts/serve` (install into .venv, then `xerotier serve …`), stopping at --help.
    done = subprocess.run(
        [str(ROOT / "scripts" / "serve"), "--help"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Serve the inference API and the dashboard." in done.stdout
