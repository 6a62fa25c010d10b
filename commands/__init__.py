"""Commands of `server.py` that are not the server: the demo seeder and the platform import."""
