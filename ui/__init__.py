"""Streamlit-only code: page catalogue, session state, shared widgets.

The library in ``cnnviz/`` never imports Streamlit; everything that does lives here
or in ``pages/``.
"""
