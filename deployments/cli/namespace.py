"""quantum-trader namespace create: a Redis ACL user that reaches one namespace only."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from deployments.cli._app import group, handles_errors, out, print_json, settings

app = group("namespace", help="Namespaces: isolated accounts on one Redis server.")


@app.command("create")
@handles_errors
def namespace_create(
    name: str = typer.Argument(..., help="letters, digits, '-' and '_'"),
    env_file: Path | None = typer.Option(
        None,
        "--env-file",
        help="Where to write its settings (default QT_HOME/namespaces/NAME.env).",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make a Redis ACL user limited to NAME's keys and channels (NAME:*), and write the
    QT_NAMESPACE and QT_REDIS_URL that use it to a file only you can read. Run again to
    replace its password."""
    from components.namespaces import check_namespace, create_namespace_user
    from components.redis import connect, embedded_socket_path

    check_namespace(name)
    config = settings()
    if config.redis_url is not None:
        server = config.redis_url.get_secret_value()
    else:
        server = f"unix://{embedded_socket_path(config.home)}"
    user = create_namespace_user(connect(config), name)
    path = env_file or config.home.expanduser() / "namespaces" / f"{name}.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        file.write(
            f"# Quantum Trader namespace {name}: Redis ACL user {user.username}, which reaches\n"
            f"# only the keys and channels {name}:*. Load with: set -a; . {path}; set +a\n"
            f"QT_NAMESPACE={name}\nQT_REDIS_URL={user.url(server)}\n"
        )
    if as_json:
        print_json({"namespace": name, "username": user.username, "env_file": str(path)})
        return
    out.print(
        f"namespace {name}: Redis ACL user {user.username}, limited to the keys and channels "
        f"{name}:*\nits QT_NAMESPACE and QT_REDIS_URL (with the password) are in {path} "
        f"(mode 0600); use them with: set -a; . {path}; set +a",
        highlight=False,
    )
