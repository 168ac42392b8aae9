"""The request model in the model registry: its name, its artifacts, and loading them.

``detector train`` publishes, and :meth:`RequestAnalyzer.from_registry
<detector.analysis.analyzer.RequestAnalyzer.from_registry>` loads, a version of
``MODEL_NAME`` holding the batch model (optional), the learned profiles
(``PROFILES_FILE``) and the route templates (``ROUTES_FILE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detector.analysis.batch_model import RequestForest
from detector.analysis.features import schema
from detector.analysis.profiles import ProfileStore
from detector.models.registry import ModelRegistry, RegistryError
from detector.routes.templater import RouteTemplater

__all__ = ["MODEL_NAME", "PROFILES_FILE", "ROUTES_FILE", "RequestModel", "load_request_model"]

MODEL_NAME = "request"
PROFILES_FILE = "profiles.json"
ROUTES_FILE = "routes.state"


@dataclass(frozen=True, slots=True)
class RequestModel:
    """One loaded version's parts; any may be absent (profiles only, no model...).

    >>> import tempfile
    >>> load_request_model(tempfile.mkdtemp()) is None  # nothing published yet
    True
    """

    version: str
    model: RequestForest | None
    profiles: ProfileStore | None
    templater: RouteTemplater | None


def load_request_model(models_dir: str | Path, name: str = MODEL_NAME,
                       version: str | None = None) -> RequestModel | None:
    """The current (or given) version of ``name``, checked; None when none is published.

    Raises :class:`RegistryError` for a version this detector cannot use: another
    feature schema, not a request model, unreadable profiles or templates.
    """
    reg = ModelRegistry(models_dir)
    if version is None and reg.current(name) is None:
        return None
    loaded = reg.load(name, version)
    want = schema()
    got = loaded.card.get("feature_schema")
    model = loaded.model
    if model is not None:
        if got != want:
            raise RegistryError(
                f"{name}/{loaded.version}: feature schema "
                f"{(got or {}).get('version')} does not match this "
                f"detector's ({want['version']}); retrain"
            )
        if not isinstance(model, RequestForest):
            raise RegistryError(f"{name}/{loaded.version}: not a request model")
    try:
        blob = loaded.artifacts.get(PROFILES_FILE)
        profiles = ProfileStore.load_state(blob) if blob else None
        blob = loaded.artifacts.get(ROUTES_FILE)
        templater = RouteTemplater.load_state(blob) if blob else None
    except ValueError as exc:
        raise RegistryError(f"{name}/{loaded.version}: {exc}") from None
    return RequestModel(loaded.version, model, profiles, templater)
