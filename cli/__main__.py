"""`python -m cli`: the `callscope` command."""

from cli.main import app

app()
