"""Routes stage: raw URL path -> low-cardinality route template (``/users/{id}``)."""

from detector.routes.base import Templater
from detector.routes.shapes import ID, REST
from detector.routes.templater import RouteTemplater

__all__ = ["ID", "REST", "RouteTemplater", "Templater"]
