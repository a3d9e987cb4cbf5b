"""Greendoor's Streamlit shell: cached loaders and shared widgets (imports Streamlit)."""
