"""The guided tour and the quiz in Chromium: Next from step 1 to 9, a pre-set view, and a
quiz question answered right and one wrong."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from cnnviz import quiz
from tests.e2e.helpers import assert_no_exception, open_app, wait_idle
from ui import tour

pytestmark = pytest.mark.e2e

CAT = tour.ImageSize(300, 451, 3)  # the default sample, Cat (Chelsea)


def _query(page: Page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _header(page: Page):
    return page.get_by_test_id("stMainBlockContainer").get_by_role("heading", level=2).first


def test_walk_the_tour_and_open_a_view(page: Page, app_url, shot):
    open_app(page, f"{app_url}/learn")
    for number in range(1, len(tour.STEPS) + 1):
        step = tour.build_step(number, CAT)
        # step 7 counts the classics' parameters: seconds on a busy machine, the first time
        expect(_header(page)).to_have_text(f"{number}. {step.title}", timeout=30_000)
        expect(page.get_by_text(f"Step {number} of {len(tour.STEPS)}")).to_be_visible()
        for view in step.views:
            expect(page.get_by_role("button", name=view.label)).to_be_visible()
        assert_no_exception(page)
        if number > 1:
            assert _query(page).get("step") == str(number)
        if number < len(tour.STEPS):
            page.get_by_role("button", name=re.compile(r"^Next: ")).click()
            wait_idle(page)
    expect(page.get_by_role("link", name=re.compile("Test yourself"))).to_be_visible()
    shot("last-step")

    # back to step 3 through the URL, then its first view: Sobel x, stride 2, padding 1
    open_app(page, f"{app_url}/learn?step=3")
    expect(_header(page)).to_have_text("3. Stride and padding")
    prompt = page.get_by_text("Set stride to 2: what happens to the output size?")
    prompt.scroll_into_view_if_needed()
    page.get_by_test_id("stExpander").first.locator("summary").click()
    expect(page.get_by_text("150×226", exact=False).first).to_be_visible()
    view = tour.build_step(3, CAT).views[0]
    page.get_by_role("button", name=view.label).click()
    page.wait_for_url(re.compile(r"/convolution\?"), timeout=60_000)
    wait_idle(page)
    assert _query(page).get("stride") == "2" and _query(page).get("padding") == "1"
    expect(page.get_by_role("heading", name="Convolution", level=1)).to_be_visible()
    expect(page.get_by_label("Stride ↓ (rows)")).to_have_value("2")
    expect(page.get_by_text("150 × 226")).to_be_visible()  # the output size on the cat
    assert_no_exception(page)
    shot("view-opened")


def _question_box(page: Page, number: int):
    """The bordered container of question ``number``: keyed "quiz.question.N" on the page,
    which Streamlit turns into the class st-key-quiz-question-N."""
    return page.locator(f".st-key-quiz-question-{number}")


def _wrong(question: quiz.Question) -> str:
    a = question.answer
    if isinstance(a, tuple):
        text = f"{a[0] + 1}×{a[1]}"
        return text + (f", {a[2]}" if len(a) == 3 else "")
    return f"{a + 1:,}"


def test_answer_a_question_right_and_one_wrong(page: Page, app_url, shot):
    open_app(page, f"{app_url}/quiz")
    page.wait_for_url(re.compile(r"seed=\d+"))
    seed = int(_query(page)["seed"])  # a random quiz, its number in the URL
    questions = quiz.make_quiz(seed, 5)
    numeric = [i for i, q in enumerate(questions) if not q.is_choice]
    first, second = numeric[0], numeric[1]

    # the page shows the questions the library makes for this seed
    box = _question_box(page, first + 1)
    expect(box).to_contain_text(questions[first].text)

    answer = page.get_by_label(f"Your answer to question {first + 1}")
    answer.fill(questions[first].answer_text)
    box.get_by_role("button", name="Check").click()
    wait_idle(page)
    box = _question_box(page, first + 1)
    expect(box.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        f"Right: {questions[first].answer_text}")
    expect(box.get_by_test_id("stAlertDynamicIcon")).to_have_text("check_circle")

    answer = page.get_by_label(f"Your answer to question {second + 1}")
    answer.fill(_wrong(questions[second]))
    answer.press("Enter")  # Enter submits the form too
    wait_idle(page)
    box = _question_box(page, second + 1)
    expect(box.get_by_test_id("stAlertContentError")).to_contain_text("Not quite")
    expect(box.get_by_test_id("stAlertContentError")).to_contain_text(
        f"The answer is {questions[second].answer_text}")
    expect(box.get_by_test_id("stAlertDynamicIcon")).to_have_text("cancel")
    expect(box).to_contain_text("Worked solution")
    expect(page.get_by_text("Score: 1 of 2 answered right")).to_be_visible()
    assert_no_exception(page)
    shot("answered")

    # the same link gives the same questions in a new session
    open_app(page, f"{app_url}/quiz?seed={seed}")
    expect(_question_box(page, first + 1)).to_contain_text(questions[first].text)
