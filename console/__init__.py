"""The console (/console): server-rendered pages for the people who hold the keys.

Sign up, log in, profile, API keys and their usage, posts, and for admins users and the catalog.
Every action calls the same service functions as the API; the pipeline (web/pipeline.py) serves
these pages through its one `Pages` branch (console/pages.py).
"""
