"""The ASGI entry point for uvicorn: the app built from the environment."""

from portal.app import create_app

app = create_app()
