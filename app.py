"""cnnviz: the entry point. ``streamlit run app.py``

Declares the pages (from ``ui.catalog``, in lecture order) and the image picker
that every page shares.
"""

import cv2
import streamlit as st
import torch

from ui import boot, catalog, present, sidebar

# One torch thread per rerun. Streamlit runs every session's rerun on a thread of its own,
# and on 2 cores torch's own thread pool only fights them (bench/RESULTS.md, "History").
torch.set_num_threads(1)
cv2.setNumThreads(1)  # the same for OpenCV's filters
boot.freeze_startup_objects()

present.page_config()  # before anything is drawn: presenter links open with the sidebar shut

pages = [
    st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=(p is catalog.HOME))
    for p in catalog.all_pages()
]
with boot.timed_rerun():
    navigation = st.navigation(pages, expanded=True)  # all 14 pages, no "View more"
    sidebar.image_picker()
    present.controls()  # presenter switch, copy-link button, keyboard stepping
    navigation.run()
