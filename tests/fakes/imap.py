"""A real IMAP server for tests: a private Dovecot instance (Debian package ``dovecot-imapd``).

    if not dovecot_available(): pytest.skip(DOVECOT_MISSING)
    with DovecotServer() as server:              # its own config, base_dir and free port
        uid = server.deliver(raw_mail_bytes)     # IMAP APPEND into the user's INBOX
        IMAP_URL = server.url()                  # imap://support:secret@127.0.0.1:<port>/INBOX
        server.flags(uid)                        # {"\\Seen", …}
        server.unseen()                          # UIDs of the unseen mails

It never touches the system's dovecot service or /etc/dovecot: everything (config, sockets, state,
mail, log) lives in one temporary directory that ``stop`` removes. ``DovecotServer(tls=True)``
also serves implicit TLS (``tls_port``) and STARTTLS with a throwaway certificate that
``client_ssl_context`` trusts (needs the ``cryptography`` package).

Dovecot refuses to open mail as root (uid 0), so when the tests run as root the mail belongs to
``nobody``; otherwise to the current user (and dovecot runs without root, as that user).
"""

from __future__ import annotations

import base64
import datetime as _dt
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["DOVECOT_MISSING", "DovecotServer", "dovecot_available", "dovecot_binary"]

DOVECOT_MISSING = "dovecot-imapd is not installed (apt-get install dovecot-imapd); .ci/run installs it"

_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def dovecot_binary() -> str | None:
    """The ``dovecot`` executable (it lives in /usr/sbin, often not on a normal user's PATH)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which("dovecot", path=path)


def dovecot_available() -> bool:
    return dovecot_binary() is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DovecotServer:
    """A throwaway Dovecot serving IMAP on 127.0.0.1 for one mailbox user (more with ``add_user``)."""

    host = "127.0.0.1"

    def __init__(self, user: str = "support", password: str = "secret", *, tls: bool = False, start_timeout: float = 15.0):
        self.user = user
        self.password = password
        self.tls = tls
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.tls_port: int | None = None
        self.client_ssl_context: ssl.SSLContext | None = None
        self.dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._users: dict[str, str] = {user: password}

    # ------------------------------------------------------------ life cycle

    def start(self) -> "DovecotServer":
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError(DOVECOT_MISSING)
        # Short and traversable: dovecot's unix sockets live under base_dir (paths < 108 bytes),
        # and its unprivileged processes must reach the mail directory.
        self.dir = Path(tempfile.mkdtemp(prefix="pitchin-dovecot-"))
        os.chmod(self.dir, 0o711)
        mail_uid, mail_gid = self._mail_owner()
        mail = self.dir / "mail"
        mail.mkdir()
        os.chown(mail, mail_uid, mail_gid)
        (self.dir / "run").mkdir(mode=0o755)
        (self.dir / "state").mkdir(mode=0o750)
        self._write_passwd()
        if self.tls:
            self.client_ssl_context = _write_certificate(self.dir / "cert.pem", self.dir / "key.pem")

        last_error = ""
        for _attempt in range(3):  # a free port can be taken by someone else before dovecot binds it
            self.port = free_port()
            self.tls_port = free_port() if self.tls else None
            self._write_config(mail_uid, mail_gid)
            out = open(self.dir / "dovecot.out", "wb")
            try:
                self._proc = subprocess.Popen(
                    [binary, "-F", "-c", str(self.dir / "dovecot.conf")],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            finally:
                out.close()
            if self._wait_until_listening():
                return self
            last_error = self.log_text()
            self._terminate()
            if "bind" not in last_error.lower() and "address already in use" not in last_error.lower():
                break
        self._cleanup()
        raise RuntimeError(f"dovecot did not start; its log says:\n{last_error}")

    def stop(self) -> None:
        self._terminate()
        self._cleanup()

    def __enter__(self) -> "DovecotServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_until_listening(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if _accepts(self.host, self.port, greeting=True) and (
                self.tls_port is None or _accepts(self.host, self.tls_port, greeting=False)
            ):
                return True
            time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the master stops its children, then itself
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session, started above
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)

    def _cleanup(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------ configuration

    @staticmethod
    def _mail_owner() -> tuple[int, int]:
        if os.geteuid() != 0:
            return os.getuid(), os.getgid()
        try:
            nobody = pwd.getpwnam("nobody")
            return nobody.pw_uid, nobody.pw_gid
        except KeyError:
            return 65534, 65534

    def _write_passwd(self) -> None:
        # One passwd-file per user (users/<name>): dovecot checks a passwd-file for changes at
        # most once a second, so a user added to a shared file could go unseen for a moment;
        # a new file is read at its first lookup.
        users = self.dir / "users"
        users.mkdir(mode=0o755, exist_ok=True)
        for user, password in self._users.items():
            path = users / user
            if path.exists():
                continue
            tmp = users / f".{user}.tmp"
            tmp.write_text(f"{user}:{{PLAIN}}{password}\n", encoding="utf-8")
            os.chmod(tmp, 0o644)  # read by the auth process, which runs as an unprivileged user
            os.replace(tmp, path)

    def _write_config(self, mail_uid: int, mail_gid: int) -> None:
        d = self.dir
        if os.geteuid() == 0:
            run_as = ""
        else:  # dovecot without root: every service runs as the current user, nothing chroots
            me = pwd.getpwuid(os.getuid()).pw_name
            my_group = grp.getgrgid(os.getgid()).gr_name
            run_as = (
                f"default_internal_user = {me}\n"
                f"default_internal_group = {my_group}\n"
                f"default_login_user = {me}\n"
                "service anvil {\n  chroot =\n}\n"
                "service imap-login {\n  chroot =\n}\n"
            )
        if self.tls:
            tls = (
                "ssl = yes\n"
                f"ssl_cert = <{d / 'cert.pem'}\n"
                f"ssl_key = <{d / 'key.pem'}\n"
            )
            imaps = f"  inet_listener imaps {{\n    address = {self.host}\n    port = {self.tls_port}\n  }}\n"
        else:
            tls = "ssl = no\n"
            imaps = "  inet_listener imaps {\n    port = 0\n  }\n"
        conf = f"""# a private test instance (tests/fakes/imap.py); not the system's dovecot
instance_name = pitchin-test-{d.name}
base_dir = {d / 'run'}
state_dir = {d / 'state'}
protocols = imap
listen = {self.host}
{tls}auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
auth_verbose = yes
log_path = {d / 'dovecot.log'}
info_log_path = {d / 'dovecot.log'}
mail_location = maildir:{d / 'mail'}/%u/Maildir
first_valid_uid = {mail_uid}
last_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
last_valid_gid = {mail_gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d / 'users'}/%u
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={d / 'mail'}/%u
}}
# no growing delay after failed logins (tests fail logins on purpose)
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
{imaps}}}
{run_as}"""
        (d / "dovecot.conf").write_text(conf)

    # ------------------------------------------------------------ users and URLs

    def add_user(self, user: str, password: str) -> None:
        """Another mailbox user (its own passwd-file, read at its first login; works while running)."""
        if any(c in user + password for c in ":\n\r") or not user or "/" in user or user.startswith("."):
            raise ValueError("a test user needs a name without '/' or a leading '.', and neither name nor password may contain ':' or a line break")
        if user in self._users and self._users[user] != password:
            raise ValueError(f"user {user!r} exists already (dovecot may cache the old password)")
        self._users[user] = password
        if self.dir is not None:
            self._write_passwd()

    def url(
        self,
        folder: str = "INBOX",
        *,
        user: str | None = None,
        password: str | None = None,
        scheme: str = "imap",
        starttls: bool = False,
    ) -> str:
        from urllib.parse import quote

        user = self.user if user is None else user
        password = self._users.get(user, self.password) if password is None else password
        port = self.tls_port if scheme == "imaps" else self.port
        query = "?starttls=true" if starttls else ""
        return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{port}/{quote(folder, safe='')}{query}"

    # ------------------------------------------------------------ looking into the mailbox

    def connect(self, user: str | None = None) -> imaplib.IMAP4:
        """A logged-in imaplib client (plain, on ``port``); log it out when done."""
        user = self.user if user is None else user
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        secret = f"\0{user}\0{self._users[user]}".encode("utf-8")  # PLAIN: any characters
        conn.authenticate("PLAIN", lambda _challenge: secret)
        return conn

    def deliver(
        self,
        raw: bytes | str,
        folder: str = "INBOX",
        *,
        user: str | None = None,
        flags: str = "",
        received_at: _dt.datetime | None = None,
    ) -> int:
        """Put one mail into a folder (created if missing) with IMAP APPEND; returns its UID.
        ``flags`` e.g. "\\Seen"; ``received_at`` (aware) becomes its INTERNALDATE."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        raw = re.sub(rb"\r?\n", b"\r\n", raw)
        conn = self.connect(user)
        try:
            mailbox = _q(folder)
            if folder.upper() != "INBOX":
                conn.create(mailbox)  # NO when it exists: fine
            when = imaplib.Time2Internaldate(received_at) if received_at is not None else None
            typ, data = conn.append(mailbox, f"({flags})" if flags else None, when, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND to {folder} failed: {data}")
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            if m:
                return int(m.group(1))
            conn.select(mailbox)
            typ, data = conn.uid("SEARCH", "ALL")
            return max(int(u) for u in data[0].split())
        finally:
            conn.logout()

    def flags(self, uid: int, folder: str = "INBOX", *, user: str | None = None) -> set[str]:
        """The flags of one mail, e.g. {"\\Seen", "\\Flagged"}."""
        conn = self.connect(user)
        try:
            conn.select(_q(folder), readonly=True)
            typ, data = conn.uid("FETCH", str(uid), "(FLAGS)")
            for item in data:
                if item is None:
                    continue
                text = item[0] if isinstance(item, tuple) else item
                m = re.search(rb"FLAGS \(([^)]*)\)", text)
                if m:
                    return {f.decode() for f in m.group(1).split()} - {"\\Recent"}
            raise KeyError(f"no mail with UID {uid} in {folder}")
        finally:
            conn.logout()

    def search(self, criteria: str = "ALL", folder: str = "INBOX", *, user: str | None = None) -> list[int]:
        conn = self.connect(user)
        try:
            conn.select(_q(folder), readonly=True)
            typ, data = conn.uid("SEARCH", criteria)
            return sorted(int(u) for u in (data[0] or b"").split())
        finally:
            conn.logout()

    def unseen(self, folder: str = "INBOX", *, user: str | None = None) -> list[int]:
        return self.search("UNSEEN", folder, user=user)

    def log_text(self) -> str:
        parts = []
        for name in ("dovecot.out", "dovecot.log"):
            try:
                parts.append((self.dir / name).read_text(errors="replace"))
            except (OSError, TypeError):
                pass
        return "".join(parts)


# ---------------------------------------------------------------- helpers


def _q(folder: str) -> str:
    """A folder name as a quoted IMAP argument, in modified UTF-7 (RFC 3501 5.1.3)."""

    def encode_run(m: re.Match) -> str:
        b64 = base64.b64encode(m.group(0).encode("utf-16-be")).decode("ascii")
        return "&" + b64.rstrip("=").replace("/", ",") + "-"

    name = "&-".join(re.sub(r"[^\x20-\x7e]+", encode_run, part) for part in folder.split("&"))
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _accepts(host: str, port: int, greeting: bool) -> bool:
    """The port is open (and, on a plain port, dovecot's imap-login says "* OK")."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            if not greeting:
                return True
            s.settimeout(2)
            return s.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _write_certificate(cert_file: Path, key_file: Path, hostname: str = "localhost") -> ssl.SSLContext:
    """A throwaway self-signed certificate for localhost and 127.0.0.1; returns a client context
    that trusts it."""
    from tests.fakes.tls import self_signed_pem

    cert_pem, key_pem = self_signed_pem(hostname)
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    os.chmod(key_file, 0o600)
    return ssl.create_default_context(cadata=cert_pem.decode())
