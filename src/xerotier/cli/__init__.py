"""``xerotier``: the operator's command line. Names may grow, never change; ``--json`` for data."""

from __future__ import annotations

import click

from xerotier import __version__
from xerotier.cli import db, endpoints, keys, projects, serve, usage, users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xerotier")
def main() -> None:
    """Xerotier: an OpenAI-compatible inference gateway. Settings come from XEROTIER_* variables."""


main.add_command(serve.serve)
main.add_command(db.db)
main.add_command(users.users)
main.add_command(projects.projects)
main.add_command(endpoints.endpoints)
main.add_command(keys.keys)
main.add_command(usage.usage)
