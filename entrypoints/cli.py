"""`flask --app app <command>`: migrations, users, API keys, and the waitress server."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import Flask, current_app

from core.migrations import upgrade_database
from core.settings import Settings
from web.container import Container


def _container() -> Container:
    built: Container = current_app.extensions["inkwell"]
    return built


def register(app: Flask, factory: Callable[[Settings], Flask]) -> None:
    """The commands of `flask --app app`; `serve` builds each worker's app with `factory`
    (passed in, so nothing here imports app.py back)."""

    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Apply every Alembic migration up to head."""
        upgrade_database(_container().db.engine.url.render_as_string(hide_password=False))
        click.echo("database is at head")

    @app.cli.command("create-user")
    @click.option("--username", required=True)
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--admin", is_flag=True, help="give the user the admin role")
    def create_user(username: str, email: str, password: str, admin: bool) -> None:
        """Create a user (optionally an admin)."""
        from pydantic import ValidationError

        from schemas.users import UserRegister
        from services import auth
        from services.errors import DomainError

        try:
            data = UserRegister(username=username, email=email, password=password)
        except ValidationError as exc:
            # Field and reason only: pydantic's own message would print the password back.
            reasons = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
            )
            raise click.ClickException(reasons)
        uow = _container().unit_of_work(write=True)
        try:
            user = auth.register(uow=uow, data=data)
            if admin:
                user.role = "admin"
                uow.commit()
            click.echo(f"created user {user.id} ({user.username}, {user.role})")
        except DomainError as exc:
            raise click.ClickException(exc.detail)
        finally:
            uow.close()

    @app.cli.command("create-api-key")
    @click.option("--username", required=True)
    @click.option("--name", required=True)
    @click.option("--scopes", required=True, help="comma-separated, e.g. read,posts:write")
    @click.option("--tier", default="standard", show_default=True)
    def create_api_key(username: str, name: str, scopes: str, tier: str) -> None:
        """Create an API key for a user and print its secret (shown only this once)."""
        from services import api_keys, auth
        from services.actor import ALL_SCOPES
        from services.errors import DomainError

        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        unknown = sorted(set(wanted) - ALL_SCOPES)
        if unknown or not wanted:
            raise click.ClickException(f"unknown scopes: {', '.join(unknown) or '(none given)'}")
        uow = _container().unit_of_work(write=True)
        try:
            user = auth.find_login_user(uow=uow, login=username)
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            _key, secret = api_keys.issue(
                uow=uow,
                owner_id=user.id,
                name=name,
                scopes=wanted,
                expires_at=None,
                tier=tier,
            )
            click.echo(secret)
        except DomainError as exc:
            raise click.ClickException(exc.detail)
        finally:
            uow.close()

    @app.cli.command("seed")
    @click.option("--users", type=click.IntRange(0), default=100, show_default=True)
    @click.option("--posts", type=click.IntRange(0), default=1000, show_default=True)
    @click.option("--comments", type=click.IntRange(0), default=3000, show_default=True)
    @click.option("--items", type=click.IntRange(0), default=100, show_default=True)
    @click.option("--seed", "seed_value", type=int, default=1, show_default=True, help="same seed, same data")
    @click.option("--keys", type=click.IntRange(0), default=None, help="API keys [10 with --keys-out]")
    @click.option("--keys-out", type=click.Path(dir_okay=False), default=None, help="write key secrets here")
    @click.option("--unlimited", is_flag=True, help="give the keys the 'unlimited' tier")
    def seed_command(
        users: int,
        posts: int,
        comments: int,
        items: int,
        seed_value: int,
        keys: int | None,
        keys_out: str | None,
        unlimited: bool,
    ) -> None:
        """Bulk-load deterministic data for load tests (password of every user: inkwell-seed-password)."""
        from tqdm import tqdm

        from entrypoints.seed import SEED_PASSWORD, seed

        container = _container()
        tier = "unlimited" if unlimited else "standard"
        if tier not in container.settings.rate_limit.tiers:
            raise click.ClickException(f"tier {tier!r} is not configured in rate_limit.tiers")
        wanted_keys = keys if keys is not None else (10 if keys_out else 0)
        # A bar with rate and ETA on a terminal; disable=None prints nothing when stderr is not one.
        with tqdm(total=users + posts + comments + items, unit=" rows", disable=None) as bar:
            result = seed(
                container.db.engine,
                users=users,
                posts=posts,
                comments=comments,
                items=items,
                seed_value=seed_value,
                keys=wanted_keys,
                tier=tier,
                progress=bar.update,
            )
        if keys_out:
            with open(keys_out, "w") as out:
                out.writelines(f"{secret}\n" for secret in result.keys)
        click.echo(
            f"seeded {result.users} users, {result.posts} posts, {result.comments} comments, "
            f"{result.items} items, {len(result.keys)} API keys ({tier}) in {result.seconds:.1f} s; "
            f"every seeded user's password is {SEED_PASSWORD!r}"
        )

    @app.cli.command("purge")
    def purge() -> None:
        """Delete expired denylist entries, idempotency records and refresh tokens (run from cron)."""
        from services.maintenance import purge_expired

        uow = _container().unit_of_work(write=True)
        try:
            counts = purge_expired(uow=uow)
        finally:
            uow.close()
        click.echo(", ".join(f"{name}: {n} deleted" for name, n in counts.items()))

    @app.cli.command("serve")
    @click.option("--host", default=None)
    @click.option("--port", type=int, default=None)
    @click.option("--threads", type=int, default=None)
    @click.option("--workers", type=int, default=None)
    def serve(host: str | None, port: int | None, threads: int | None, workers: int | None) -> None:
        """Serve with waitress; --workers N forks N processes sharing the port (SO_REUSEPORT)."""
        from entrypoints.server import run

        settings = _container().settings
        run(
            settings.model_copy(
                update={
                    "server": settings.server.model_copy(
                        update={
                            k: v
                            for k, v in {
                                "host": host,
                                "port": port,
                                "threads": threads,
                                "workers": workers,
                            }.items()
                            if v is not None
                        }
                    )
                }
            ),
            factory,
        )
