"""One line of `pitchin doctor`: what was checked, whether it is right, and what to do if not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    area: str  # "Database", "Slack", "Teams", "SMTP", "IMAP", "Intake", "Public URL", "Local model"
    name: str  # what was checked: "token (auth.test)", "bot is in #support"
    ok: bool
    detail: str = ""  # what was found: "connected as @pitchin in Acme (T0123)"
    advice: str = ""  # for a ✗: what to do, in one or two sentences
    needed: bool = True  # a ✗ of a needed check makes `pitchin doctor` exit 1
    skipped: bool = False  # not configured, nothing to check: shown as "–" with the detail

    def line(self) -> str:
        mark = "–" if self.skipped else ("✓" if self.ok else "✗")
        text = f"{mark} {self.area}: {self.name}" + (f" — {self.detail}" if self.detail else "")
        if not self.ok and not self.skipped and self.advice:
            text += f"\n    → {self.advice}"
        return text
