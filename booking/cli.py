"""Command line: flask --app booking db upgrade | users create | tokens create | demo."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from booking import db
from booking.errors import BookingError

db_cli = AppGroup("db", help="The database schema.")
users_cli = AppGroup("users", help="User accounts.")
tokens_cli = AppGroup("tokens", help="Personal API tokens.")
series_cli = AppGroup("series", help="Recurring bookings.")
panels_cli = AppGroup("panels", help="Door panels: tokens bound to one room.")


def _fail(err: BookingError) -> None:
    raise click.ClickException(err.message)


@db_cli.command("upgrade")
def db_upgrade():
    """Apply the sql/ migrations not applied yet (safe to run again)."""
    applied = db.upgrade(current_app.config["DATABASE_URL"])
    click.echo("Applied: " + ", ".join(applied) if applied else "Database is up to date.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", required=True)
@click.option("--admin", is_flag=True, help="Give the account the admin role.")
def users_create(email: str, name: str, password: str, admin: bool):
    """Create an account that signs in with email and password."""
    from booking.account import service

    try:
        user = service.create_user(email, name, password, admin)
    except BookingError as err:
        _fail(err)
    click.echo(f"Created {user['role']} {user['email']} (id {user['id']}).")


@tokens_cli.command("create")
@click.option("--email", required=True, help="Whose token it is.")
@click.option("--name", default="", help="A label, e.g. the integration's name.")
def tokens_create(email: str, name: str):
    """Create an API token; the token is printed alone on the last line."""
    from booking.account import service

    try:
        user = service.user_by_email(email)
        row, plain = service.create_token(user["id"], name)
    except BookingError as err:
        _fail(err)
    click.echo(f"Token {row['prefix']}… for {user['email']}; it is shown only now:")
    click.echo(plain)


@series_cli.command("extend")
def series_extend():
    """Book the occurrences that entered the booking window (run daily; safe to repeat)."""
    from booking.clock import now
    from booking.series import service

    totals = service.extend_all(now(), current_app.config)
    click.echo(f"Extended {totals['series']} series: {totals['booked']} occurrences booked, "
               f"{totals['skipped']} skipped (recorded on each series).")


@click.command("demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing (quietly) when data exists.")
@click.option("--scale", type=click.Choice(["small", "large"]), default="small",
              help="large: 500 rooms, 5,000 users, ~1,000,000 bookings (for benchmarks).")
def demo_command(if_empty: bool, scale: str):
    """Load demo rooms, users and bookings into an empty database."""
    from booking import demo

    if not demo.database_is_empty():
        if if_empty:
            click.echo("Demo data: the database already has data; left as it is.")
            return
        raise click.ClickException("The database already has data; demo data goes only into "
                                   "an empty database.")
    summary = demo.load_large(report=click.echo) if scale == "large" else demo.load()
    click.echo(summary)


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
def worker_command(once: bool):
    """Deliver events (mail, webhooks) until SIGTERM; run one or more beside the web server."""
    from booking.events.worker import Worker

    worker = Worker(current_app._get_current_object())
    if once:
        click.echo(f"Handled {worker.run_until_idle()} events and deliveries.")
        return
    worker.install_signal_handlers()
    worker.run()


@panels_cli.command("create")
@click.option("--room", "room_id", required=True, type=int, help="The room's id.")
def panels_create(room_id: int):
    """Make a door panel token for a room; the token is printed alone on the last line."""
    from booking.panels import service

    try:
        row, plain = service.create_token(room_id, None)
    except BookingError as err:
        _fail(err)
    click.echo(f"Panel token {row['prefix']}… for room {room_id}; open "
               f"/rooms/{room_id}/panel?key=<token> on the tablet. It is shown only now:")
    click.echo(plain)


def init_app(app: Flask) -> None:
    for command in (db_cli, users_cli, tokens_cli, series_cli, panels_cli, demo_command, worker_command):
        app.cli.add_command(command)
