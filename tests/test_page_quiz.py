"""The Quiz page through app.py (AppTest): the seed in the URL, instant feedback, the score."""

from __future__ import annotations

import pytest

from cnnviz import quiz
from tests.apptest import markdown_text, open_page

PAGE = "pages/quiz.py"
P = "quiz."
SEED = 4711


def _query(at, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _questions_shown(at) -> list[str]:
    texts = [m.value for m in at.markdown]
    return [texts[i + 1] for i, t in enumerate(texts) if t.startswith("**Question ")]


def _answer(at, seed: int, index: int, text: str):
    question = quiz.make_quiz(seed, 5)[index]
    if question.is_choice:
        at.radio(key=f"{P}{seed}.{index}.answer").set_value(text)
    else:
        at.text_input(key=f"{P}{seed}.{index}.answer").input(text)
    at.button(key=f"FormSubmitter:{P}{seed}.{index}.form-Check").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return question


def _first(seed: int, choice: bool) -> int:
    return next(i for i, q in enumerate(quiz.make_quiz(seed, 5)) if q.is_choice == choice)


def test_a_new_visitor_gets_a_random_quiz_with_its_number_in_the_url():
    at = open_page(PAGE)
    assert at.title[0].value == "Quiz" and not at.warning
    seed = at.number_input(key=P + "seed").value
    assert _query(at, "seed") == str(seed)
    assert _questions_shown(at) == [q.text for q in quiz.make_quiz(seed, 5)]


def test_the_seed_in_the_url_gives_the_same_questions_to_everybody():
    first, second = open_page(PAGE, seed=str(SEED)), open_page(PAGE, seed=str(SEED))
    expected = [q.text for q in quiz.make_quiz(SEED, 5)]
    assert _questions_shown(first) == _questions_shown(second) == expected
    assert first.number_input(key=P + "seed").value == SEED
    # the mix: arithmetic answered in a text box, concepts by choosing an option
    assert len(first.text_input) + len(first.radio) == 5 and len(first.radio) == 2


def test_a_right_answer_gets_a_tick_and_a_wrong_one_the_worked_solution():
    at = open_page(PAGE, seed=str(SEED))
    right = _first(SEED, choice=False)
    q = _answer(at, SEED, right, quiz.make_quiz(SEED, 5)[right].answer_text)
    assert [s.value for s in at.success] == [f"Right: {q.answer_text}."]
    assert at.success[0].icon == ":material/check_circle:"
    assert "Score: 1 of 1 answered right" in at.get("progress")[0].proto.text

    wrong = next(i for i, q in enumerate(quiz.make_quiz(SEED, 5)) if not q.is_choice and i != right)
    q = quiz.make_quiz(SEED, 5)[wrong]
    off = (q.answer[0] + 1, *q.answer[1:]) if isinstance(q.answer, tuple) else q.answer + 1
    typed = "×".join(map(str, off[:2])) + (f", {off[2]}" if len(off) == 3 else "") \
        if isinstance(off, tuple) else f"{off:,}"
    _answer(at, SEED, wrong, typed)
    assert len(at.error) == 1
    assert at.error[0].value.startswith("Not quite") and at.error[0].icon == ":material/cancel:"
    assert f"The answer is **{q.answer_text}**" in at.error[0].value
    assert "**Worked solution**  \n" + q.solution in markdown_text(at)
    assert "Score: 1 of 2 answered right" in at.get("progress")[0].proto.text
    # answered questions are locked: no answer box left for them
    keys = {t.key for t in at.text_input}
    assert f"{P}{SEED}.{right}.answer" not in keys and f"{P}{SEED}.{wrong}.answer" not in keys


@pytest.mark.parametrize("typed", ["", "no idea", "32.5"])
def test_an_answer_that_cannot_be_read_is_not_marked(typed):
    at = open_page(PAGE, seed=str(SEED))
    index = _first(SEED, choice=False)
    _answer(at, SEED, index, typed)
    assert not at.error and not at.success
    assert "could not be read" in at.warning[0].value
    assert f"{P}{SEED}.{index}.answer" in {t.key for t in at.text_input}  # try again


def test_conceptual_questions_explain_the_chosen_option():
    at = open_page(PAGE, seed=str(SEED))
    index = _first(SEED, choice=True)
    q = quiz.make_quiz(SEED, 5)[index]
    wrong = (q.answer + 1) % len(q.options)
    _answer(at, SEED, index, q.options[wrong])
    assert at.error[0].value == f"You chose “{q.options[wrong]}”. {q.explanations[wrong]}"
    assert q.solution in markdown_text(at)

    index = next(i for i, q in enumerate(quiz.make_quiz(SEED, 5)) if q.is_choice and i != index)
    q = quiz.make_quiz(SEED, 5)[index]
    _answer(at, SEED, index, q.options[q.answer])
    assert at.success[0].value == q.explanations[q.answer]


def test_new_questions_change_the_seed_and_the_url():
    at = open_page(PAGE, seed=str(SEED))
    _answer(at, SEED, _first(SEED, choice=False), "1")
    at.button(key=P + "new").click().run()
    seed = at.number_input(key=P + "seed").value
    assert seed != SEED and _query(at, "seed") == str(seed)
    assert _questions_shown(at) == [q.text for q in quiz.make_quiz(seed, 5)]
    assert not at.error and not at.success  # a fresh round


@pytest.mark.parametrize("bad", ["abc", "-1", "10000000", "<b>x</b>"])
def test_a_bad_seed_gives_a_notice_and_a_random_quiz(bad):
    at = open_page(PAGE, seed=bad)
    assert len(at.warning) == 1 and "`seed`" in at.warning[0].value
    assert "<b>" not in at.warning[0].value
    seed = at.number_input(key=P + "seed").value
    assert 0 <= seed <= quiz.QUIZ_SEED_MAX and _query(at, "seed") == str(seed)
