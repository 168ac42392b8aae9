"""Model registry: versioned, checksummed model artifacts with cards (CONTRACTS §5)."""

from detector.models.registry import LoadedModel, ModelRegistry, RegistryError

__all__ = ["LoadedModel", "ModelRegistry", "RegistryError"]
