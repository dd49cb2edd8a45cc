"""The web face of gridgis: ``create_app(settings)`` builds a FastAPI app over a store."""

from api.app import create_app

__all__ = ["create_app"]
