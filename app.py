"""cnnviz: the entry point. ``streamlit run app.py``

Declares the pages (from ``ui.catalog``, in lecture order) and the image picker
that every page shares.
"""

import streamlit as st

from ui import catalog, sidebar

st.set_page_config(page_title="cnnviz: CNNs explained", page_icon=":material/grid_on:",
                   layout="wide")

pages = [
    st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=(p is catalog.HOME))
    for p in catalog.all_pages()
]
navigation = st.navigation(pages)
sidebar.image_picker()
navigation.run()
