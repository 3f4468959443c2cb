"""The money and policy guard, read without a model: what a draft could commit the company to, and
whether a saved reply it drew on says the same."""

from __future__ import annotations

from handlers.ai_assist import CUSTOMER, EMPLOYEE, SavedText, Turn, caution_for, most_relevant, terms_in, uncovered


def kinds(text: str) -> set[str]:
    return {t.kind for t in terms_in(text)}


def test_amounts_dates_and_words_that_make_terms_are_found():
    assert kinds("We will refund you $40.") == {"refund", "amount"}
    assert kinds("That is 15 EUR, or 20% off.") == {"amount"}
    assert kinds("Our warranty policy covers it until 3 March.") == {"policy", "date"}
    assert kinds("The fee is waived; the price stays.") == {"price"}
    assert kinds("You will have it in 14 days, before the deadline.") == {"date", "deadline"}
    assert kinds("Thanks for writing! Try signing out and in again.") == set()


def test_a_term_is_covered_only_by_a_source_that_says_the_same():
    draft = "We refund $25 within 14 days."
    assert uncovered(draft, ["Refunds of $25 are paid within 14 days."]) == []
    left = uncovered(draft, ["Refunds of $30 are paid within 10 days."])
    assert [t.words for t in left] == ["$25", "14 days"]
    assert {t.kind for t in uncovered(draft, [])} == {"amount", "date", "refund"}
    assert uncovered("We have refunded it.", ["We refund double charges."]) == []  # same topic, another form


def test_the_caution_names_what_to_check():
    caution = caution_for(uncovered("You get a refund of £10.", []))
    assert caution.startswith("This draft mentions an amount and a refund (“£10”, “refund”) that no saved reply covers")
    assert "check the terms before sending" in caution
    assert caution_for([]) is None


def test_the_most_relevant_saved_replies_share_the_customers_words():
    saved = [SavedText(1, "Password", "Use the Forgot password link."),
             SavedText(2, "Double charge", "When a card is charged twice we refund the second charge."),
             SavedText(3, "Shipping", "Parcels ship in two days.")]
    talk = [Turn(CUSTOMER, "Where is my parcel?"), Turn(EMPLOYEE, "Checking."), Turn(CUSTOMER, "I was charged twice!")]
    assert [s.id for s in most_relevant(saved, talk)] == [2, 3]  # the latest message counts most; Password: nothing
    assert most_relevant(saved, talk, limit=1) == [saved[1]]
