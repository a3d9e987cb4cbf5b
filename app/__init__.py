"""Greendoor's Streamlit shell: cached loaders and shared widgets (imports Streamlit)."""

from pathlib import Path

#: The page scripts (one per page), beside app/.
PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
