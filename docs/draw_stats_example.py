"""Draw docs/stats-chart.png, the README's picture of `stats 90d`, from a plausible made-up history.

    python docs/draw_stats_example.py [OUT.png]

Thirteen weeks of a small company: nine to fourteen tickets a working day, answered by nine people,
two customers in five rating their answer and some giving an NPS score, support getting a little
better over the quarter. The history goes into a throwaway SQLite database and the chart is drawn
by the same code as the `stats` command (handlers.stats.compute, handlers.stats_chart.render), so
the picture is what Pitchin shows. Seeded: the same picture every time. It also prints the text.
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers import stats_command  # noqa: E402
from handlers.context import Context  # noqa: E402
from handlers.stats_text import report_text  # noqa: E402
from handlers.surveys import REFERRALS, open_survey  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Person, Ticket, TicketMessage  # noqa: E402

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)  # Monday: the window is 1 Sep – 29 Nov
DAYS = 90
PEOPLE = ["Ann", "Bob", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines"]
REFERRAL_WEIGHTS = {"search": 9, "friend": 7, "review": 4, "social": 3, "event": 2, "ad": 1, "other": 2}


class FixedClock:
    def now(self) -> datetime:
        return NOW


def history(session, rng: random.Random) -> None:
    people = []
    for name in PEOPLE:
        p = Person(name=name)
        session.add(p)
        session.flush()
        people.append(p.id)
    # Ann and Bob are on support most; the rest of the company answers now and then
    weights = [10, 8, 4, 3, 3, 2, 2, 1, 1]
    start = NOW - timedelta(days=DAYS)
    for day in range(DAYS):
        date = start + timedelta(days=day)
        progress = day / DAYS  # 0 → 1 over the quarter: answers get faster and better
        weekend = date.weekday() >= 5
        busy = 1.3 if 35 <= day <= 48 else 1.0  # a release that brought questions
        for _ in range(rng.randint(0, 2) if weekend else int(rng.randint(9, 14) * busy)):
            created = date + timedelta(hours=rng.uniform(7, 19))
            t = Ticket(subject="Question", customer_email=f"c{rng.randrange(10**9)}@example.com", customer_name="C",
                       created_at=created, updated_at=created, last_customer_at=created)
            session.add(t)
            session.flush()
            wait = timedelta(minutes=rng.lognormvariate(4.3 - 0.6 * progress, 0.9))
            if created + wait > NOW - timedelta(hours=2) or rng.random() < 0.02:
                continue  # still waiting
            answered = created + wait
            session.add(TicketMessage(ticket_id=t.id, kind="reply", author_person_id=rng.choices(people, weights)[0],
                                      text="…", delivery_state="sent", created_at=answered, delivered_at=answered))
            closed = answered + timedelta(hours=rng.lognormvariate(2.6 - 0.4 * progress, 1.0))
            if closed >= NOW:
                continue
            t.status, t.closed_at = "closed", closed
            if rng.random() > 0.4:
                continue  # no survey answer
            survey, _ = open_survey(session, t, None, closed)
            great = 0.72 + 0.16 * progress
            survey.rating = rng.choices(["great", "okay", "not_good"], [great, (1 - great) * 0.6, (1 - great) * 0.4])[0]
            survey.rated_at = min(closed + timedelta(hours=rng.uniform(24, 60)), NOW - timedelta(minutes=1))
            if rng.random() < 0.45:
                promoter = 0.45 + 0.2 * progress
                survey.nps = rng.choices([10, 9, 8, 7, 6, 4, 2], [promoter / 2, promoter / 2, 0.14, 0.12,
                                                                   0.06, 0.04, 0.03])[0]
                survey.nps_at = survey.rated_at
                survey.referral = rng.choices(list(REFERRAL_WEIGHTS), list(REFERRAL_WEIGHTS.values()))[0]
                if survey.referral == "other":
                    survey.referral_other = "A podcast"
            session.add(survey)
    assert set(REFERRAL_WEIGHTS) - {"other"} <= set(REFERRALS)


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'example.db'}")
        db.upgrade()
        with db.transaction() as session:
            history(session, random.Random(14))
        ctx = Context(db=db, clock=FixedClock())
        report = stats_command.report(ctx, DAYS)
        db.dispose()
    out.write_bytes(stats_command.chart(report))
    print(report_text(report))
    print(f"\nWrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "stats-chart.png")
