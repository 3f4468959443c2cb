"""Doctor, public URL: PITCHIN_PUBLIC_URL is https and this server answers /healthz there.

The URL is the administrator's own setting, not a customer's: it may name a loopback or private
address (a proxy on the same machine), so the address guard of reply URLs does not apply here."""

from __future__ import annotations

from urllib.parse import urlparse

from bot.doctor.result import Check

AREA = "Public URL"
NAME = "PITCHIN_PUBLIC_URL"
HEALTHZ_SECONDS = 5.0
REACH = ("check that `pitchin serve` is running and that PITCHIN_PUBLIC_URL reaches it from here "
         "(DNS, the proxy or load balancer in front of it, the firewall)")


async def checks(settings, send_to: str | None = None) -> list[Check]:
    url = settings.public_url.rstrip("/")
    if not url:
        return [Check(AREA, NAME, False, "not configured (Teams' app package and links to Pitchin need it)",
                      skipped=True)]
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return [Check(AREA, "https", False, f"“{url}” is not a web address",
                      "set it to this server's public address, e.g. https://pitchin.example.com")]
    found = [Check(AREA, "https", True, url) if parsed.scheme == "https" else
             Check(AREA, "https", False, f"{url} is plain http",
                   "serve Pitchin behind https (a proxy or the platform's router) and set the https:// address: "
                   "Slack and Teams only call https")]
    found.append(await _healthz(f"{url}/healthz"))
    return found


async def _healthz(address: str) -> Check:
    import aiohttp

    name = "answers /healthz"
    timeout = aiohttp.ClientTimeout(total=HEALTHZ_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(address, allow_redirects=False) as response:
                status = response.status
                body = (await response.text(errors="replace"))[:200].strip()
    except TimeoutError:  # aiohttp raises asyncio's TimeoutError, which is the builtin one since 3.11
        return Check(AREA, name, False, f"{address} did not answer within {HEALTHZ_SECONDS:g} s", REACH)
    except aiohttp.ClientSSLError as exc:
        return Check(AREA, name, False, f"{address}: the certificate is not accepted ({_first_line(exc)})",
                     "install a certificate that browsers trust for this host name (e.g. from Let's Encrypt)")
    except (aiohttp.ClientError, OSError) as exc:
        return Check(AREA, name, False, f"{address}: {_first_line(exc)}", REACH)
    if status == 200:
        return Check(AREA, name, True, f"{address} answered 200")
    if 300 <= status < 400:
        return Check(AREA, name, False, f"{address} answered {status} (a redirect)",
                     "set PITCHIN_PUBLIC_URL to the address it redirects to")
    return Check(AREA, name, False, f"{address} answered {status}" + (f": {body}" if body else ""),
                 "look at the server's log; /healthz answers 503 when the server cannot reach its database"
                 if status == 503 else REACH)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
