"""Settings and logging: the only place that reads the environment and .env."""

from config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
