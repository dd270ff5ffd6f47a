"""Learn: a guided tour through the app, nine steps in the order of a lesson."""

import streamlit as st

from ui import catalog, state, tour, views
from ui.boot import ensure_app_navigation
from ui.urlstate import Link, int_param

ensure_app_navigation()

PAGE = catalog.LEARN
N = len(tour.STEPS)
STEP = int_param("step", PAGE.key("step"), 1, 1, N)


def _go(delta: int) -> None:
    st.session_state[STEP.widget] = min(max(int(st.session_state[STEP.widget]) + delta, 1), N)


st.title("Learn")
st.markdown(
    "A guided tour for a student on their own: nine short steps, from why images need "
    "convolutions to transfer learning. Each step opens a page of the app with the right "
    "settings and gives you something to try there; the answers are worked out on the image "
    "in the sidebar."
)
link = Link()
link.seed([STEP])

number = st.selectbox("Step", range(STEP.bounds[0], STEP.bounds[1] + 1), key=STEP.widget,
                      persist_state="session",
                      format_func=lambda i: f"{i}. {tour.STEPS[i - 1][0]}")
st.progress(number / N, text=f"Step {number} of {N}")

with st.spinner("Working out the numbers…"):  # step 7 counts the classics once: seconds
    step = tour.build_step(number, state.current_image())
st.header(f"{number}. {step.title}")
st.markdown(step.text)
if step.facts:
    for col, (label, value) in zip(st.columns(len(step.facts)), step.facts, strict=True):
        col.metric(label, value)
if step.table:
    st.dataframe(
        list(step.table), hide_index=True,
        column_config={
            "parameters": st.column_config.NumberColumn(format="localized"),
            "multiply-adds per image": st.column_config.NumberColumn(format="localized"),
            "year": st.column_config.NumberColumn(format="plain"),
        },
    )
if step.note:
    st.caption(step.note)

st.subheader("See it in the app")
for i, view in enumerate(step.views):
    if st.button(view.label, key=PAGE.key(f"view.{number}.{i}"), icon=":material/open_in_new:",
                 on_click=views.prepare, args=(view,)):
        link.publish()
        views.open_view(view)
    st.caption(f"Link to share: `{view.url}`")

st.subheader("Try this")
for i, item in enumerate(step.tries, start=1):
    st.markdown(f"**{i}.** {item.prompt}")
    with st.expander("Answer"):
        st.markdown(item.answer)

st.divider()
back, ahead = st.columns(2)
back.button("Previous step", key=PAGE.key("previous"), icon=":material/arrow_back:",
            on_click=_go, args=(-1,), disabled=number == 1, width="stretch")
if number < N:
    ahead.button(f"Next: {tour.STEPS[number][0]}", key=PAGE.key("next"), type="primary",
                 icon=":material/arrow_forward:", on_click=_go, args=(1,), width="stretch")
else:
    with ahead:
        st.page_link(tour.QUIZ_PAGE, label="The end of the tour. Test yourself: the Quiz",
                     icon=":material/quiz:")

link.publish()
