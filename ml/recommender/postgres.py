"""The thin database layer: the four tables the trainer reads, as row dicts for data.load.

The connection URI carries a password, so nothing here prints it: libpq's own messages can quote
parts of a malformed URI (e.g. `invalid percent-encoded token: "secret%zz"`), and every error
leaves through `redact` first.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

QUERIES = {
    "businesses": "SELECT id, sector, stage, funding_ask::float8 AS funding_ask FROM businesses",
    "investors": "SELECT id, user_id, preferred_sector, ticket_min::float8 AS ticket_min, "
                 "ticket_max::float8 AS ticket_max FROM investors",
    "feedback": "SELECT id, user_id, business_id, rating, created_at FROM feedback",
    "deals": "SELECT id, investor_id, business_id, status, created_at FROM deals",
}


class DatabaseError(Exception):
    """A connection or query failure, with any secret already removed from the message."""


def _secrets(uri: str) -> list[str]:
    found = []
    try:
        parts = urlsplit(uri)
        if parts.password:
            found += [parts.password, unquote(parts.password)]
        for value in parse_qs(parts.query).get("password", []):
            found.append(value)
        raw = re.search(r"//[^/@]*?:([^@/]*)@", uri)  # the raw userinfo password, even if malformed
        if raw:
            found += [raw.group(1), unquote(raw.group(1))]
    except ValueError:
        pass
    return sorted({s for s in found if s}, key=len, reverse=True)


def redacted_uri(uri: str) -> str:
    """The URI without its password (user, host, port and database stay: they help debugging)."""
    text = re.sub(r"(//[^/@:]*):[^@/]*@", r"\1@", uri)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", text)


def redact(text: str, uri: str) -> str:
    """`text` (an error message) on one line, without the URI's password wherever it appears."""
    text = " ".join(text.split()).replace(uri, redacted_uri(uri))
    for secret in _secrets(uri):
        text = text.replace(secret, "***")
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)


# An OperationalError with one of these is the request's fault, not the server's state: no retry
# (a statement that ran past --statement-timeout would only run past it again).
_PERMANENT = ("authentication", "does not exist", "pg_hba.conf", "invalid", "statement timeout")


def fetch_rows(uri: str, statement_timeout_s: float = 60.0, connect_timeout_s: int = 10, wait_s: float = 0.0,
               log=None) -> dict[str, list[dict]]:
    """`_fetch_rows`, riding out a database that is restarting or briefly unreachable for up to `wait_s`
    seconds (a connection refused or closed, "the database system is starting up"): the read is the
    same snapshot whenever it succeeds, so trying again is safe. A wrong password, a missing
    database or a malformed URI fails at once."""
    import time

    deadline = time.monotonic() + wait_s
    pause, said = 0.2, False
    while True:
        try:
            return _fetch_rows(uri, statement_timeout_s, connect_timeout_s)
        except _Transient as transient:
            if time.monotonic() + pause > deadline:
                raise DatabaseError(str(transient)) from None
            if log and not said:
                log(f"waiting for the database (up to {wait_s:g} s): {transient}")
                said = True
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


class _Transient(Exception):
    """A failure worth another try (message already redacted)."""


def _is_transient(error) -> bool:
    import psycopg2

    text = str(error).lower()
    return isinstance(error, psycopg2.OperationalError) and not any(word in text for word in _PERMANENT)


def _fetch_rows(uri: str, statement_timeout_s: float, connect_timeout_s: int) -> dict[str, list[dict]]:
    """All four tables in one read-only REPEATABLE READ snapshot, so they describe one moment."""
    import psycopg2  # here, not at the top: the in-memory core must not need a driver

    try:
        conn = psycopg2.connect(uri, connect_timeout=connect_timeout_s, application_name="lockstep-ml-train")
    except Exception as error:  # psycopg2.Error, or ProgrammingError for a malformed URI
        message = f"cannot connect to {redact(redacted_uri(uri), uri)}: {redact(str(error), uri)}"
        raise (_Transient if _is_transient(error) else DatabaseError)(message) from None
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        rows: dict[str, list[dict]] = {}
        with conn.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", (int(statement_timeout_s * 1000),))
            for table, sql in QUERIES.items():
                cursor.execute(sql)
                columns = [d[0] for d in cursor.description]
                rows[table] = [dict(zip(columns, r)) for r in cursor.fetchall()]
        conn.rollback()
        return rows
    except psycopg2.Error as error:
        message = f"query failed: {redact(str(error), uri)}"
        raise (_Transient if _is_transient(error) else DatabaseError)(message) from None
    finally:
        conn.close()
