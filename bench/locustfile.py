"""Locust load test: a realistic Inkwell mix.

Readers browse post lists, read posts and their comments and look at the catalog; writers log
in (seeded users share the password "inkwell-seed-password") and comment; a catalog admin
creates and reads items with an API key from the `seed --keys-out` file.

    flask --app app seed --users 10000 --posts 100000 --comments 300000 --items 10000 \
        --keys-out var/seed.keys --unlimited
    INKWELL_KEYS_FILE=var/seed.keys locust -f bench/locustfile.py --host http://127.0.0.1:8000

Environment: INKWELL_KEYS_FILE (admin API keys, one per line), INKWELL_USERS (how many users were
seeded, default 10000: user ids 6..N log in as user<id>), INKWELL_POSTS (default 100000).
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

from locust import FastHttpUser, between, task

SEED_PASSWORD = "inkwell-seed-password"
USERS = int(os.environ.get("INKWELL_USERS", "10000"))
POSTS = int(os.environ.get("INKWELL_POSTS", "100000"))
_keys_file = os.environ.get("INKWELL_KEYS_FILE", "")
KEYS = Path(_keys_file).read_text().split() if _keys_file else []
_next_key = itertools.cycle(KEYS) if KEYS else None


class Reader(FastHttpUser):
    """Anonymous browsing: list pages, posts, comments, items."""

    weight = 6
    wait_time = between(0.5, 2)

    @task(4)
    def browse_posts(self) -> None:
        page = random.randint(1, 50)
        self.client.get(f"/api/v1/posts?page={page}&per_page=20", name="/api/v1/posts?page=N")

    @task(6)
    def read_post(self) -> None:
        post_id = random.randint(1, POSTS)
        with self.client.get(f"/api/v1/posts/{post_id}", name="/api/v1/posts/{id}", catch_response=True) as r:
            if r.status_code == 404:  # drafts are invisible to anonymous readers
                r.success()

    @task(3)
    def read_comments(self) -> None:
        post_id = random.randint(1, POSTS)
        with self.client.get(
            f"/api/v1/posts/{post_id}/comments", name="/api/v1/posts/{id}/comments", catch_response=True
        ) as r:
            if r.status_code == 404:
                r.success()

    @task(2)
    def browse_items(self) -> None:
        self.client.get("/api/v1/items?in_stock=true&sort=price", name="/api/v1/items?in_stock")


class Writer(FastHttpUser):
    """Logs in as a seeded user, reads, and comments on published posts."""

    weight = 3
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.headers: dict[str, str] = {}
        self.login()

    def login(self) -> None:
        username = f"user{random.randint(6, USERS)}"
        response = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": SEED_PASSWORD}, name="login"
        )
        if response.status_code == 200:
            self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    @task(5)
    def read_then_comment(self) -> None:
        post_id = random.randint(1, POSTS)
        with self.client.get(
            f"/api/v1/posts/{post_id}", headers=self.headers, name="/api/v1/posts/{id}", catch_response=True
        ) as r:
            if r.status_code == 404:
                r.success()
                return
        if r.status_code == 200 and r.json()["status"] == "published":
            self.client.post(
                f"/api/v1/posts/{post_id}/comments",
                json={"content": "A thoughtful comment from the load test."},
                headers=self.headers,
                name="/api/v1/posts/{id}/comments [POST]",
            )

    @task(1)
    def relogin(self) -> None:
        self.login()


class CatalogAdmin(FastHttpUser):
    """Creates and reads items with an admin API key from the keys file."""

    weight = 1 if KEYS else 0
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.headers = {"X-API-Key": next(_next_key)} if _next_key else {}
        self.created: list[int] = []

    @task(1)
    def create_item(self) -> None:
        price = f"{random.randint(100, 99_999) / 100:.2f}"
        response = self.client.post(
            "/api/v1/items",
            json={"name": f"Load test item {random.randint(1, 10**9)}", "price": price, "stock": 5},
            headers=self.headers,
            name="/api/v1/items [POST]",
        )
        if response.status_code == 201:
            self.created.append(response.json()["id"])

    @task(4)
    def read_item(self) -> None:
        item_id = random.choice(self.created) if self.created else random.randint(1, 10_000)
        with self.client.get(
            f"/api/v1/items/{item_id}", headers=self.headers, name="/api/v1/items/{id}", catch_response=True
        ) as r:
            if r.status_code == 404:
                r.success()
