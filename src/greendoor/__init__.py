"""Greendoor: customer-success analytics on your own data.

The library never imports Streamlit; the app (``app/``, ``pages/``) does.
"""

__version__ = "0.1.0"
