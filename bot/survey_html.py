"""The customer's survey page as HTML: plain server-rendered pages, no JavaScript and nothing loaded
from elsewhere, readable on a phone and in a mail client's own browser.

Every word a customer or a ticket supplies (their name, the subject, their comment) passes through
``html.escape`` here and nowhere else; the rest is Pitchin's own text.
"""

from __future__ import annotations

from html import escape

from handlers import surveys
from handlers.survey_answers import COMMENT_LIMIT, NPS_SCORES, OTHER_LIMIT, SurveyPage

STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1f2328;font:18px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;-webkit-text-size-adjust:100%}
main{max-width:36rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.75rem 0}
h2,legend{font-size:1.1rem;font-weight:700;margin:0 0 .6rem;padding:0}
p{margin:.5rem 0}
.box{background:#fff;border-radius:14px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 3px rgba(0,0,0,.1)}
fieldset{border:0;margin:0 0 1.25rem;padding:0;min-width:0}
.ratings{display:flex;flex-wrap:wrap;gap:.5rem}
.ratings a{flex:1 1 6rem;display:flex;align-items:center;justify-content:center;min-height:52px;padding:.4rem;border:2px solid #d0d7de;border-radius:12px;color:#1f2328;text-decoration:none;font-weight:600;text-align:center}
.ratings a[aria-current]{border-color:#0969da;background:#ddf4ff}
label{cursor:pointer}
textarea,input[type=text]{width:100%;font:inherit;padding:.6rem;border:1px solid #8c959f;border-radius:10px;background:#fff;color:inherit}
textarea{min-height:7.5rem;resize:vertical}
.scale{display:grid;grid-template-columns:repeat(6,1fr);gap:.4rem}
@media (min-width:40rem){.scale{grid-template-columns:repeat(11,1fr)}}
.scale label{position:relative;display:block}
.scale input{position:absolute;opacity:0;width:1px;height:1px}
.scale span{display:flex;align-items:center;justify-content:center;min-height:48px;border:2px solid #d0d7de;border-radius:10px;font-weight:700}
.scale input:checked+span{background:#0969da;border-color:#0969da;color:#fff}
.scale input:focus-visible+span{outline:3px solid #fb8500;outline-offset:2px}
.ends{display:flex;justify-content:space-between;gap:1rem;font-size:.9rem;color:#57606a;margin-top:.3rem}
.choice{display:flex;align-items:center;gap:.7rem;min-height:46px}
.choice input{width:1.4rem;height:1.4rem;flex:none;margin:0}
input[type=text].other{display:block;margin:.2rem 0 0 2.1rem;width:calc(100% - 2.1rem)}
button{width:100%;min-height:54px;border:0;border-radius:12px;background:#1f6feb;color:#fff;font:inherit;font-weight:700}
.error{color:#b42318;font-weight:600}
.said{white-space:pre-wrap;overflow-wrap:anywhere}
.quiet{color:#57606a;font-size:.95rem}
a{color:#0550ae}
"""


def document(title: str, body: str) -> str:
    """A whole page: its own styles inline (the page's Content-Security-Policy allows nothing else)."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def _rating_words(rating: str) -> str:
    # words without the chat's emoji: a mail client's browser may lack the font for 🙁
    return surveys.RATING_WORDS[rating]


def _error(page: SurveyPage, name: str) -> str:
    message = page.errors.get(name)
    return f'<p class="error" id="{name}-error">{escape(message)}</p>' if message else ""


def _ratings(page: SurveyPage) -> str:
    links = []
    for rating in surveys.RATINGS:
        current = ' aria-current="true"' if rating == page.rating else ""
        # `again`: the page's own link, surely the customer's (a mail's links may be a scanner's)
        links.append(f'<a href="?rating={rating}&amp;again=1"{current}>{escape(_rating_words(rating))}</a>')
    heading = "Changed your mind?" if page.rating else "How did we do?"
    return (f'<section class="box"><h2>{heading}</h2><div class="ratings">{"".join(links)}</div>'
            f'{_error(page, "rating")}</section>')


def _nps(page: SurveyPage) -> str:
    boxes = []
    for score in NPS_SCORES:
        checked = " checked" if page.nps == score else ""
        boxes.append(f'<label><input type="radio" name="nps" value="{score}"{checked}><span>{score}</span></label>')
    return (f'<fieldset><legend>{escape(page.nps_question)}</legend>{_error(page, "nps")}'
            f'<div class="scale">{"".join(boxes)}</div>'
            '<div class="ends" aria-hidden="true"><span>0 = Not likely</span><span>10 = Very likely</span></div>'
            '</fieldset>')


def _referral(page: SurveyPage) -> str:
    rows = []
    for value, words in list(surveys.REFERRALS.items()) + [(surveys.OTHER, "Other:")]:
        checked = " checked" if page.referral == value else ""
        rows.append(f'<label class="choice"><input type="radio" name="referral" value="{value}"{checked}>'
                    f'<span>{escape(words)}</span></label>')
    other = (f'<input class="other" type="text" name="referral_other" maxlength="{OTHER_LIMIT}" '
             f'aria-label="Where did you hear about us?" placeholder="Where?" value="{escape(page.referral_other)}">')
    return (f'<fieldset><legend>How did you hear about us?</legend>{_error(page, "referral")}'
            f'{"".join(rows)}{other}</fieldset>')


def survey_page(page: SurveyPage, token: str, form_key: str) -> str:
    """The page a survey link opens: thanks, the ratings (to change the answer), the comment box
    and, when this page asks them, the NPS and referral questions."""
    name = escape(page.first_name)
    if page.rating:
        heading = f"Thanks{', ' + name if name else ''}! You said: {escape(_rating_words(page.rating))}"
    else:
        heading = f"Hi{' ' + name if name else ''}, how did we do?"
    parts = [f"<h1>{heading}</h1>"]
    if page.subject:
        parts.append(f'<p class="quiet">About your request “{escape(page.subject)}”.</p>')
    if page.errors and set(page.errors) - {"rating"}:
        parts.append('<p class="error" role="alert">Something below needs a change; '
                     'everything else you wrote is kept.</p>')
    parts.append(_ratings(page))
    questions = [f'<fieldset><legend><label for="comment">Anything you want to tell us? (optional)</label></legend>'
                 f'{_error(page, "comment")}'
                 f'<textarea id="comment" name="comment" maxlength="{COMMENT_LIMIT}">{escape(page.comment)}</textarea>'
                 '</fieldset>']
    if page.ask_nps:
        questions += [_nps(page), _referral(page)]
    parts.append(f'<form class="box" method="post" action="{escape(token)}">'
                 f'<input type="hidden" name="key" value="{escape(form_key)}">{"".join(questions)}'
                 '<button type="submit">Send</button></form>')
    title = "Thanks for your answer" if page.rating else "How did we do?"
    return document(title, "".join(parts))


def thank_you(page: SurveyPage, token: str) -> str:
    """After the form was sent: what is recorded now."""
    name = escape(page.first_name)
    said = []
    if page.rating:
        said.append(f"<li>How we did: <strong>{escape(_rating_words(page.rating))}</strong></li>")
    if page.comment:
        said.append(f'<li>Your comment: <div class="said">{escape(page.comment)}</div></li>')
    if page.ask_nps and page.nps is not None:
        said.append(f"<li>How likely you are to recommend {escape(page.company)}: <strong>{page.nps} of 10</strong></li>")
    if page.ask_nps and page.referral:
        words = surveys.REFERRALS.get(page.referral) or (f"Other: {page.referral_other}" if page.referral_other else "Other")
        said.append(f"<li>How you heard about us: <strong>{escape(words)}</strong></li>")
    parts = [f"<h1>Thank you{', ' + name if name else ''}!</h1>", '<section class="box">']
    if said:
        parts.append(f"<p>We got your answers:</p><ul>{''.join(said)}</ul>")
    else:
        parts.append("<p>There was nothing to send: every question is optional.</p>")
    if page.comment:
        parts.append("<p>The person who answered you reads this too.</p>")
    parts.append(f'<p><a href="{escape(token)}">Change your answers</a></p></section>')
    return document("Thank you", "".join(parts))


def message_page(title: str, *lines: str) -> str:
    """A short page of Pitchin's own words: a link that does not work, a refused form."""
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines)
    return document(title, f'<h1>{escape(title)}</h1><section class="box">{paragraphs}</section>')


NOT_FOUND = message_page(
    "This survey link has expired or does not exist",
    "This survey link has expired or does not exist. Survey links work for "
    f"{surveys.TOKEN_DAYS} days after the email was sent, and only exactly as they were in it.",
    "If you want to tell us something, simply reply to our email.")
