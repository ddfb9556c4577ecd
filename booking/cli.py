"""Command line: flask --app booking db upgrade | users create | tokens create | demo."""

from __future__ import annotations

import click
import psycopg
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from booking import db
from booking.errors import BookingError


class Command(click.Command):
    """A command that needs the database: when it cannot be reached, one line on
    stderr and exit code 1, not a traceback.

    The database is asked once, directly, before the command runs: so the line
    gives psycopg's reason, which the pool only logs, retry after retry, before
    it gives up with a bare PoolTimeout.
    """

    def invoke(self, ctx: click.Context):
        url = ctx.ensure_object(ScriptInfo).load_app().config["DATABASE_URL"]
        try:
            own = "connect_timeout" in conninfo_to_dict(url)   # the URL's wins, as in the pool
            db.connect(url, **({} if own else {"connect_timeout": db.CONNECT_TIMEOUT})).close()
            return super().invoke(ctx)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            reason = str(exc).strip().partition("\n")[0]
            # The setting is named, not its value: the URL may hold a password.
            raise click.ClickException(f"Cannot reach the database (DATABASE_URL): {reason}"
                                       ) from None


class Group(AppGroup):
    """Flask's command group (commands run in the app context), of Commands."""

    command_class = Command


db_cli = Group("db", help="The database schema.")
users_cli = Group("users", help="User accounts.")
tokens_cli = Group("tokens", help="Personal API tokens.")
series_cli = Group("series", help="Recurring bookings.")
panels_cli = Group("panels", help="Door panels: tokens bound to one room.")


def _fail(err: BookingError) -> None:
    raise click.ClickException(err.message)


def _not_blank(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A password of spaces passes the length rule, but nobody means it."""
    if not value.strip():
        raise click.BadParameter("must not be blank (empty or only spaces).")
    return value


def _may_have_a_token(user: dict) -> None:
    """Refuse a personal token that could not sign in, or that would let a door
    panel's account do more than the panel's actions."""
    if user["panel_room"] is not None:
        raise click.ClickException(
            f"{user['email']} is the account of room {user['panel_room']}'s door panels; a "
            f"panel token is made with: flask --app booking panels create --room "
            f"{user['panel_room']}")
    if not user["active"]:
        raise click.ClickException(f"{user['email']} is deactivated: a token would not sign "
                                   "in. An admin can reactivate it on /admin/users.")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply the sql/ migrations not applied yet (safe to run again)."""
    applied = db.upgrade(current_app.config["DATABASE_URL"])
    click.echo("Applied: " + ", ".join(applied) if applied else "Database is up to date.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", required=True, callback=_not_blank)
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
        _may_have_a_token(user)
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


@click.command("demo", cls=Command)
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


@click.command("worker", cls=Command)
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
