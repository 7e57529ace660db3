"""Reports from result files alone: tables (pandas), figures (matplotlib), report.md."""
from .render import NoResults, write_report

__all__ = ["NoResults", "write_report"]
