"""Doctor, intake: PITCHIN_INTAKE_TOKEN is set, is not an example value, and is long enough not to be guessed."""

from __future__ import annotations

from bot.config import EXAMPLE_VALUES, placeholders
from bot.doctor.result import Check

AREA = "Intake"
NAME = "PITCHIN_INTAKE_TOKEN"
MIN_LENGTH = 24  # about 140 bits as token_urlsafe writes it; anyone who can reach /intake/* can try tokens
# words people type when a token is asked for; exactly these are as good as no token
STAND_INS = {"secret", "password", "token", "test", "changeme", "intake", "pitchin", "example", "123456"}
ADVICE = EXAMPLE_VALUES[NAME][1]


async def checks(settings, send_to: str | None = None) -> list[Check]:
    token = settings.intake_token
    if not token:
        return [Check(AREA, "token", False, f"{NAME} not configured: /intake/* is switched off (mail gateways "
                                            "and web forms cannot create tickets)", skipped=True)]
    placeholder = next((p for p in placeholders(settings) if p.var == NAME), None)
    if placeholder is not None:
        return [Check(AREA, "token", False, f"{NAME} {placeholder.detail}", placeholder.advice)]
    if token.lower() in STAND_INS:
        return [Check(AREA, "token", False, f"{NAME} is “{token}”, a placeholder anyone would guess", ADVICE)]
    if len(token) < MIN_LENGTH:
        return [Check(AREA, "token", False, f"{NAME} is {len(token)} characters long; it needs at least {MIN_LENGTH}",
                      ADVICE)]
    return [Check(AREA, "token", True, f"{NAME} set, {len(token)} characters")]
