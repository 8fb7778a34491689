"""Process entrypoints: CLI commands, the waitress server, the seeder. Only app.py imports them."""
