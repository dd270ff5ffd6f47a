"""Quiz: questions with new numbers every time, checked by cnnviz's own formulas."""

import random

import streamlit as st

from cnnviz import QUIZ_SEED_MAX, QUIZ_TOPICS, Question, make_quiz
from ui import catalog, state, widgets
from ui.boot import ensure_app_navigation
from ui.urlstate import Link, int_param

ensure_app_navigation()

PAGE = catalog.QUIZ
P = PAGE.prefix
RESULTS = state.QUIZ_RESULTS  # dict seed -> {question index: (answer as read, right?)}
PROBLEM = state.QUIZ_PROBLEM  # (seed, index, message) | None: the last answer that was not read
ROUND = 5  # questions per quiz
# Material icons, not the ✅ / ❌ emoji: those need an emoji font, which many lecture-hall
# Linux machines lack (headless Chromium here draws them as empty boxes).
RIGHT = ":material/check_circle:"
WRONG = ":material/cancel:"
#: No default seed: a new visitor gets a random quiz, and its number goes into the URL.
SEED = int_param("seed", P + "seed", None, 0, QUIZ_SEED_MAX)


def _new_quiz() -> None:
    current = st.session_state.get(SEED.widget)
    seed = current
    while seed == current:
        seed = random.SystemRandom().randint(0, QUIZ_SEED_MAX)
    st.session_state[SEED.widget] = seed


def _answer_key(seed: int, index: int) -> str:
    return f"{P}{seed}.{index}.answer"


def _results(seed: int) -> dict:
    return st.session_state.setdefault(RESULTS, {}).setdefault(seed, {})


def _check(seed: int, index: int, question: Question) -> None:
    """Form callback: read the answer, and record it once it can be read."""
    given = st.session_state.get(_answer_key(seed, index))
    value = None if given is None else question.read(given)
    if value is None:
        message = ("Choose one of the answers first." if question.is_choice else
                   f"That could not be read as an answer: write {question.hint}.")
        st.session_state[PROBLEM] = (seed, index, message)
        return
    st.session_state[PROBLEM] = None
    _results(seed)[index] = (value, value == question.answer)


def _as_text(question: Question, value) -> str:
    """An answer as read, written the way the page writes answers (never the raw input)."""
    if question.is_choice:
        return f"“{question.options[value]}”"
    if isinstance(value, tuple):
        size = "×".join(str(v) for v in value[:2])
        return size if len(value) == 2 else f"{size}, {value[2]:,}"
    return f"{value:,}"


def _feedback(question: Question, value, right: bool) -> None:
    if question.is_choice:
        if right:
            st.success(question.explanations[value], icon=RIGHT)
        else:
            st.error(f"You chose {_as_text(question, value)}. {question.explanations[value]}",
                     icon=WRONG)
            st.markdown(f"**The answer:** {question.answer_text}.  \n{question.solution}")
        return
    if right:
        st.success(f"Right: {question.answer_text}.", icon=RIGHT)
        with st.expander("Worked solution"):
            st.markdown(question.solution)
    else:
        st.error(f"Not quite: you answered {_as_text(question, value)}. "
                 f"The answer is **{question.answer_text}**.", icon=WRONG)
        st.markdown("**Worked solution**  \n" + question.solution)


st.title("Quiz")
st.markdown(
    f"{ROUND} questions with new numbers every time: parameter counts, output sizes, pooling, "
    "receptive fields, and a few ideas from the lesson. Every answer is computed by the same "
    "formulas the other pages use, and a wrong answer gets the worked solution. Share the "
    "link (or the quiz number) and everybody gets the same questions."
)
link = Link()
link.seed([SEED])
if st.session_state.get(SEED.widget) is None:
    _new_quiz()

top_left, top_mid, top_right = st.columns([1, 1, 2], vertical_alignment="bottom")
seed = int(widgets.number(
    SEED, "Quiz number", top_left,
    help="The seed of the random numbers: the same number gives the same questions."))
top_mid.button("New questions", key=P + "new", icon=":material/casino:", on_click=_new_quiz,
               type="primary")
questions = make_quiz(seed, ROUND)
done = _results(seed)
right = sum(ok for _, ok in done.values())
with top_right:
    st.progress(len(done) / ROUND,
                text=f"Score: {right} of {len(done)} answered right · {ROUND - len(done)} to go")

problem = st.session_state.get(PROBLEM)
for i, question in enumerate(questions):
    with st.container(border=True, key=f"{P}question.{i + 1}"):
        st.markdown(f"**Question {i + 1} of {ROUND}** · {QUIZ_TOPICS[question.kind]}")
        st.markdown(question.text)
        if i in done:
            _feedback(question, *done[i])
            continue
        with st.form(f"{P}{seed}.{i}.form", border=False):
            label = f"Your answer to question {i + 1}"
            if question.is_choice:
                st.radio(label, question.options, index=None, key=_answer_key(seed, i))
            else:
                st.text_input(label, key=_answer_key(seed, i), placeholder=question.hint)
            st.form_submit_button("Check", on_click=_check, args=(seed, i, question))
        if problem is not None and problem[:2] == (seed, i):
            st.warning(problem[2], icon=":material/help:")

if len(done) == ROUND:
    st.success(f"All {ROUND} answered: {right} right. Press **New questions** for another "
               "round with new numbers.", icon=":material/school:")

link.publish()
