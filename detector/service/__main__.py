"""``python -m detector.service run|demo|deploy record``, until the main app registers them."""

from __future__ import annotations

import typer

from detector.cli.service_cmds import (
    DEPLOY_EPILOG,
    RUN_EPILOG,
    demo_command,
    deploy_record_command,
    run_command,
)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
app.command("run", epilog=RUN_EPILOG)(run_command)
app.command("demo")(demo_command)
deploy = typer.Typer(no_args_is_help=True, help="Deployment events.")
deploy.command("record", epilog=DEPLOY_EPILOG)(deploy_record_command)
app.add_typer(deploy, name="deploy")

if __name__ == "__main__":
    app()
