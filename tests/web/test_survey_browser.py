"""The survey page in a real browser: headless Chromium (Debian's chromium and chromedriver, driven by
selenium) at a phone's width opens a customer's survey link, answers, and the answer reaches the
ticket's thread on Slack (the fake Web API) with a mention and a Reopen button that works.

The whole stack runs: a customer mail opens the ticket, Ann claims and answers it in the thread
(signed Slack requests), the ticket is closed, and a day later the survey mail reaches the SMTP server,
where the customer's link is taken from. A screenshot of the page is kept in artifacts/.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from handlers import survey_send, surveys
from storage.models import Ticket
from tests.slack.test_ticket_loop import block_texts, buttons
from tests.stack import CHANNEL, raw_mail, start_stack, stop_stack

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = (390, 844)  # CSS pixels of a common phone's screen
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "artifacts" / "survey-page-phone.png"
README_PICTURE = ROOT / "docs" / "survey-page.png"
NOT_FOUND_WORDS = "This survey link has expired or does not exist"


def _browser_or_skip() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if not missing:
        return
    reason = (f"{' and '.join(missing)} missing: install Debian's chromium and chromium-driver "
              "(.ci/run does) to test the survey page in a real browser")
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must run this test")
    pytest.skip(reason)


class ShiftedClock:
    """The real time plus an offset the test moves (the survey delay passes, a link expires)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self):
        from handlers.base import utcnow

        return utcnow() + self.offset


@pytest.fixture
def browser(monkeypatch):
    _browser_or_skip()
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", f"--window-size={PHONE[0]},{PHONE[1]}",
                     "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    # a phone: its width, its pixel density, and the page's viewport meta obeyed as a phone does
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True})
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
async def stack(sqlite_url):
    s = await start_stack(sqlite_url)
    s.pitchin.ctx.public_url = s.base  # survey links point at this server
    s.pitchin.ctx.clock = ShiftedClock()
    yield s
    await stop_stack(s)


async def customer_survey_link(stack, ticket_id: int, rating: str) -> str:
    """The link the customer clicks in the survey email: the delay after the close passes, a round of
    the survey job queues the survey, the delivery worker mails it to the SMTP server, and the link
    for ``rating`` is read out of the mail that arrived there."""
    ctx = stack.pitchin.ctx
    ctx.clock.offset = timedelta(hours=ctx.survey_delay_hours, minutes=1)
    assert await asyncio.to_thread(survey_send.tick, ctx) == 1
    mails = await stack.smtp.wait_for(2)  # the answer, then the survey
    (survey_mail,) = [mail for mail in mails if mail["Auto-Submitted"] == "auto-generated"]
    assert survey_mail["In-Reply-To"] == mails[0]["Message-ID"]  # threaded under the answer
    links = re.findall(rf"{re.escape(ctx.public_url)}/survey/[A-Za-z0-9_-]+\?rating=\w+", survey_mail.text)
    (link,) = [link for link in links if link.endswith(f"rating={rating}")]
    return link


def save_phone_screenshot(driver) -> None:
    """The whole page at the phone's width (taller than the screen): for artifacts/ and the README."""
    import base64

    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    height = metrics["cssContentSize"]["height"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": PHONE[0], "height": height, "scale": 1}})
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
    README_PICTURE.parent.mkdir(exist_ok=True)
    shutil.copyfile(SCREENSHOT, README_PICTURE)


def answer_as_customer(driver, link: str) -> dict:
    """What a customer does on the page (blocking: runs off the event loop that serves the page)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.wait import WebDriverWait

    seen = {}
    driver.get(link)
    seen["heading"] = driver.find_element(By.TAG_NAME, "h1").text
    seen["width"] = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssLayoutViewport"]["clientWidth"]
    seen["scrolls_sideways"] = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["width"] > PHONE[0]
    driver.find_element(By.NAME, "comment").send_keys("Nobody answered my real question: can I get an invoice?")
    score = driver.find_element(By.CSS_SELECTOR, 'input[name="nps"][value="3"]')
    score.find_element(By.XPATH, "..").click()  # a tap on the box around the number
    seen["score_box"] = score.find_element(By.XPATH, "..").size
    driver.find_element(By.CSS_SELECTOR, 'input[name="referral"][value="friend"]').find_element(By.XPATH, "..").click()
    seen["checked"] = (score.is_selected(),
                       driver.find_element(By.CSS_SELECTOR, 'input[name="referral"][value="friend"]').is_selected())
    save_phone_screenshot(driver)
    send = driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]')
    send.click()
    # the click returns before the next page is in: wait (with a deadline) until this one is gone
    WebDriverWait(driver, 15).until(staleness_of(send))
    seen["thanks"] = driver.find_element(By.TAG_NAME, "main").text
    return seen


def page_text(driver, url: str) -> str:
    from selenium.webdriver.common.by import By

    driver.get(url)
    return driver.find_element(By.TAG_NAME, "body").text


async def answered_and_closed_on_slack(stack) -> tuple[str, str]:
    """A customer mail becomes a ticket; Ann claims it, answers in the thread, and closes it."""
    status, body = await stack.post_email(raw_mail())
    assert status == 202
    ticket = str(body["ticket_id"])
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.click("ticket.claim", ticket, "UANN", root_ts)
    await stack.slack.wait_for("chat.update", where=lambda c: "Claimed by <@UANN>" in block_texts(c.args["blocks"]))
    await stack.say_in_thread("UANN", "We refunded the second charge.", root_ts)
    await stack.smtp.wait_for(1)
    await stack.click("ticket.close", ticket, "UANN", root_ts)
    await stack.slack.wait_for("chat.update", where=lambda c: "Closed by <@UANN>" in block_texts(c.args["blocks"]))
    return ticket, root_ts


def ticket_status(stack, ticket_id: str) -> str:
    with stack.pitchin.db.transaction(read_only=True) as session:
        return session.get(Ticket, int(ticket_id)).status


async def test_a_customer_answers_on_a_phone_and_the_answerer_hears_it(stack, browser):
    ticket, root_ts = await answered_and_closed_on_slack(stack)
    link = await customer_survey_link(stack, int(ticket), "not_good")

    seen = await asyncio.to_thread(answer_as_customer, browser, link)
    assert seen["heading"] == "Thanks, Carol! You said: Not good"
    assert seen["width"] == PHONE[0] and not seen["scrolls_sideways"]  # laid out for the phone, no sideways scroll
    assert seen["score_box"]["height"] >= 44 and seen["score_box"]["width"] >= 44  # a thumb hits it
    assert seen["checked"] == (True, True)
    assert "Thank you, Carol!" in seen["thanks"]
    assert "Nobody answered my real question: can I get an invoice?" in seen["thanks"]
    assert "How likely you are to recommend Acme: 3 of 10" in seen["thanks"]
    assert "How you heard about us: A friend or colleague" in seen["thanks"]
    assert SCREENSHOT.stat().st_size > 10_000 and SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the answer reaches the ticket's thread, mentioning Ann, with the comment and a Reopen button
    def survey_notice(call) -> bool:
        return (call.args.get("channel") == CHANNEL and call.args.get("thread_ts") == root_ts
                and "invoice" in block_texts(call.args.get("blocks")))

    (notice,) = await stack.slack.wait_for("chat.postMessage", where=survey_notice, timeout=15)
    text = block_texts(notice.args["blocks"])
    assert "<@UANN>" in text and "not happy" in text and "Not good" in text and "3 of 10" in text
    assert buttons(notice.args["blocks"]) == ["ticket.reopen"]
    assert ticket_status(stack, ticket) == "closed"

    # Ann reopens it from there, in one click
    await stack.click("ticket.reopen", ticket, "UANN", notice.response["ts"])
    # the root message is redrawn a third time (claimed, closed, now reopened): open again, still Ann's
    updates = await stack.slack.wait_for("chat.update", count=3, where=lambda c: c.args["ts"] == root_ts)
    assert "Claimed by <@UANN>" in block_texts(updates[-1].args["blocks"])
    assert buttons(updates[-1].args["blocks"]) == ["ticket.unclaim", "ticket.close", "reply.saved", "feedback.from_ticket"]
    assert ticket_status(stack, ticket) == "open"

    # a forged link, and later this one expired, get the friendly page
    forged = surveys.survey_link(stack.base, surveys.new_token(), "great")
    assert NOT_FOUND_WORDS in await asyncio.to_thread(page_text, browser, forged)
    stack.pitchin.ctx.clock.offset += timedelta(days=surveys.TOKEN_DAYS)
    expired = await asyncio.to_thread(page_text, browser, link)
    assert NOT_FOUND_WORDS in expired and "Traceback" not in expired
