"""The satisfaction survey's mail: "How did we do?" with three one-click links, as plain text and as
HTML. Only words and links: no images, no remote resources, inline styles (mail clients drop
<style> blocks and block remote content), every value escaped."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from handlers.surveys import RATING_EMOJI, RATING_WORDS, RATINGS, TOKEN_DAYS, survey_link

QUESTION = "How did we do?"
# the buttons' colours: dark enough for white words to be read (WCAG AA contrast)
_BUTTON_COLOURS = {"great": "#1a7f37", "okay": "#57606a", "not_good": "#b42318"}
_FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class SurveyMail:
    text: str
    html: str


def _greeting(customer_name: str) -> str:
    name = " ".join((customer_name or "").split())
    return f"Hi {name}," if name and "@" not in name else "Hello,"


def survey_mail(public_url: str, token: str, customer_name: str, subject: str) -> SurveyMail:
    """The mail's two bodies, each with the three links (``?rating=great|okay|not_good``)."""
    links = {rating: survey_link(public_url, token, rating) for rating in RATINGS}
    about = " ".join((subject or "").split())
    asked = f"We answered your message “{about}”." if about else "We answered your message."
    width = max(len(RATING_WORDS[r]) for r in RATINGS) + 1
    lines = [
        _greeting(customer_name),
        "",
        f"{asked} {QUESTION} One click tells us:",
        "",
        *(f"{(RATING_WORDS[r] + ':').ljust(width)} {links[r]}" for r in RATINGS),
        "",
        "Thank you: every answer helps us get better.",
        f"(The links work for {TOKEN_DAYS} days.)",
    ]
    text = "\n".join(lines) + "\n"
    return SurveyMail(text=text, html=_html(_greeting(customer_name), asked, links))


def _button(rating: str, link: str) -> str:
    style = (f"display:block;margin:0 0 12px 0;padding:14px 16px;border-radius:8px;"
             f"background:{_BUTTON_COLOURS[rating]};color:#ffffff;font-family:{_FONT};font-size:18px;"
             "font-weight:bold;line-height:24px;text-align:center;text-decoration:none;")
    return (f'<a href="{escape(link, quote=True)}" style="{escape(style, quote=True)}">'
            f"{RATING_EMOJI[rating]} {escape(RATING_WORDS[rating])}</a>")


def _paragraph(words: str, size: int = 16, colour: str = "#1f2328", margin: str = "0 0 16px 0",
               bold: bool = False) -> str:
    style = (f"margin:{margin};font-family:{_FONT};font-size:{size}px;line-height:{size + 8}px;color:{colour};"
             + ("font-weight:bold;" if bold else ""))
    return f'<p style="{escape(style, quote=True)}">{escape(words)}</p>'


# two tables: a grey page, and a white card at most 480 px wide in its middle (what mail clients
# that ignore CSS layout still draw); role="presentation" keeps screen readers from reading tables
_PAGE = ('<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
         'style="background:#f6f8fa;">')
_CARD = ('<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
         'style="max-width:480px;background:#ffffff;border-radius:8px;">')


def _html(greeting: str, asked: str, links: dict[str, str]) -> str:
    buttons = "\n".join(_button(r, links[r]) for r in RATINGS)
    thanks = f"Thank you: every answer helps us get better. The links work for {TOKEN_DAYS} days."
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(QUESTION)}</title>
</head>
<body style="margin:0;padding:0;background:#f6f8fa;">
{_PAGE}
<tr><td align="center" style="padding:24px 12px;">
{_CARD}
<tr><td style="padding:24px;">
{_paragraph(greeting)}
{_paragraph(QUESTION, size=22, margin="0 0 8px 0", bold=True)}
{_paragraph(asked + " One click tells us:")}
{buttons}
{_paragraph(thanks, size=13, colour="#57606a", margin="8px 0 0 0")}
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
