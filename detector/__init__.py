"""detector: deploy-aware, streaming anomaly detection for API access logs."""

__version__ = "0.1.0"
