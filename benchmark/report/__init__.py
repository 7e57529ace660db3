"""Reports from result files alone: tables (pandas), figures (matplotlib), report.md."""
from ..results import NoResults
from .render import write_report

__all__ = ["NoResults", "write_report"]
