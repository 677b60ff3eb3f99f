#!/usr/bin/python3
"""smtp-sink - keeps every mail it is sent, in memory, and shows it.

SMTP on port 1025 (any sender, any recipient, AUTH PLAIN/LOGIN accepted with any credentials).
HTTP on port 8025:
  GET    /                       the web UI: a list of messages, newest first
  GET    /view/ID                one message
  GET    /api/messages           {"total": N, "messages": [summary, ...]}, newest first
                                 (?to=ADDRESS filters by recipient, ?limit=N)
  GET    /api/messages/ID        one message: summary plus headers, text, html, raw
  DELETE /api/messages           forget every message
  GET    /api/v1/messages, GET /api/v1/message/ID, DELETE /api/v1/messages
                                 a subset of mailpit's API, so tests work against either
  GET    /livez, /readyz         200 while the process runs

  smtp-sink --healthcheck        exits 0 when both ports answer (the image's HEALTHCHECK)
Settings: SMTP_SINK_SMTP_PORT (1025), SMTP_SINK_HTTP_PORT (8025), SMTP_SINK_MAX_MESSAGES (5000).
"""
import asyncio
import email.policy
import email.utils
import html
import json
import os
import socket
import sys
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from email.parser import BytesParser
from urllib.parse import parse_qs, urlsplit

SMTP_PORT = int(os.environ.get("SMTP_SINK_SMTP_PORT", "1025"))
HTTP_PORT = int(os.environ.get("SMTP_SINK_HTTP_PORT", "8025"))
MAX_MESSAGES = int(os.environ.get("SMTP_SINK_MAX_MESSAGES", "5000"))

messages = OrderedDict()  # id -> stored message, oldest first


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def store(mail_from, rcpt_tos, raw):
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw.replace(b"\r\n", b"\n"))
    text = html_body = None
    try:
        part = parsed.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else None
        part = parsed.get_body(preferencelist=("html",))
        html_body = part.get_content() if part is not None else None
    except (KeyError, LookupError, ValueError):
        text = raw.decode("utf-8", "replace")
    attachments = [
        {"filename": p.get_filename(), "content_type": p.get_content_type(),
         "size": len(p.get_payload(decode=True) or b"")}
        for p in parsed.iter_attachments()
    ] if parsed.is_multipart() else []
    msg = {
        "id": uuid.uuid4().hex,
        "received_at": now_iso(),
        "envelope_from": mail_from,
        "envelope_to": list(rcpt_tos),
        "from": str(parsed.get("From", "")),
        "to": [str(a) for a in parsed.get_all("To", [])],
        "cc": [str(a) for a in parsed.get_all("Cc", [])],
        "subject": str(parsed.get("Subject", "")),
        "message_id": str(parsed.get("Message-ID", "")),
        "date": str(parsed.get("Date", "")),
        "size": len(raw),
        "headers": [[k, str(v)] for k, v in parsed.items()],
        "text": text,
        "html": html_body,
        "attachments": attachments,
        "raw": raw.decode("utf-8", "replace"),
    }
    messages[msg["id"]] = msg
    while len(messages) > MAX_MESSAGES:
        messages.popitem(last=False)
    return msg


SUMMARY_KEYS = ("id", "received_at", "envelope_from", "envelope_to", "from", "to", "cc",
                "subject", "message_id", "date", "size")


def summary(msg):
    out = {k: msg[k] for k in SUMMARY_KEYS}
    out["snippet"] = (msg["text"] or "")[:200]
    return out


def recipients(msg):
    found = {a.lower() for a in msg["envelope_to"]}
    for _, addr in email.utils.getaddresses(msg["to"] + msg["cc"]):
        found.add(addr.lower())
    return found


# mailpit's shapes, for the few calls tests use.
def mp_address(value):
    name, addr = email.utils.parseaddr(value)
    return {"Name": name, "Address": addr}


def mp_summary(msg):
    return {
        "ID": msg["id"], "MessageID": msg["message_id"].strip("<>"),
        "From": mp_address(msg["from"]),
        "To": [mp_address(a) for a in msg["to"]], "Cc": [mp_address(a) for a in msg["cc"]],
        "Subject": msg["subject"], "Created": msg["received_at"], "Size": msg["size"],
        "Snippet": (msg["text"] or "")[:200], "Read": False, "Tags": [],
    }


def mp_message(msg):
    out = mp_summary(msg)
    out.update({"Date": msg["received_at"], "Text": msg["text"] or "", "HTML": msg["html"] or "",
                "Attachments": msg["attachments"]})
    return out


# ---- SMTP --------------------------------------------------------------------------------------
class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = store(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content)
        print(json.dumps({"event": "received", "id": msg["id"], "from": envelope.mail_from,
                          "to": envelope.rcpt_tos, "subject": msg["subject"]}), flush=True)
        return "250 Message accepted for delivery"


def accept_any(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult
    return AuthResult(success=True)


async def start_smtp(loop):
    from aiosmtpd.smtp import SMTP
    return await loop.create_server(
        lambda: SMTP(Sink(), hostname="smtp-sink", authenticator=accept_any,
                     auth_require_tls=False, data_size_limit=32 * 1024 * 1024,
                     decode_data=False, enable_SMTPUTF8=True),
        host="0.0.0.0", port=SMTP_PORT, reuse_address=True)


# ---- HTTP --------------------------------------------------------------------------------------
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}}pre{{white-space:pre-wrap;
background:#f6f6f6;padding:1em}}</style>{head}</head><body>{body}</body></html>"""


def page_list():
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/view/{}\">{}</a></td></tr>".format(
            html.escape(m["received_at"]), html.escape(m["from"]), html.escape(", ".join(m["to"])),
            m["id"], html.escape(m["subject"] or "(no subject)"))
        for m in reversed(messages.values()))
    body = ("<h1>smtp-sink: {} message(s)</h1><p>SMTP on port {}; JSON at <a href=\"/api/messages\">"
            "/api/messages</a></p><table><tr><th>received</th><th>from</th><th>to</th>"
            "<th>subject</th></tr>{}</table>").format(len(messages), SMTP_PORT, rows)
    return PAGE.format(title="smtp-sink", head='<meta http-equiv="refresh" content="5">', body=body)


def page_message(msg):
    headers = "".join("<tr><th>{}</th><td>{}</td></tr>".format(html.escape(k), html.escape(v))
                      for k, v in msg["headers"])
    body = "<p><a href=\"/\">&larr; all messages</a></p><h1>{}</h1><table>{}</table>".format(
        html.escape(msg["subject"] or "(no subject)"), headers)
    if msg["text"] is not None:
        body += "<h2>text</h2><pre>{}</pre>".format(html.escape(msg["text"]))
    if msg["html"] is not None:
        body += "<h2>html</h2><iframe sandbox srcdoc=\"{}\" style=\"width:100%;height:30em\"></iframe>".format(
            html.escape(msg["html"], quote=True))
    body += "<h2>raw</h2><pre>{}</pre>".format(html.escape(msg["raw"]))
    return PAGE.format(title=html.escape(msg["subject"]), head="", body=body)


def route(method, path, query):
    """Returns (status, content type, body)."""
    as_json = lambda status, obj: (status, "application/json", json.dumps(obj, ensure_ascii=False))
    parts = [p for p in path.split("/") if p]
    if method == "GET" and path in ("/livez", "/readyz"):
        return 200, "text/plain", "ok\n"
    if method == "GET" and path == "/":
        return 200, "text/html; charset=utf-8", page_list()
    if method == "GET" and len(parts) == 2 and parts[0] == "view":
        msg = messages.get(parts[1])
        return (200, "text/html; charset=utf-8", page_message(msg)) if msg else (404, "text/plain", "not found\n")
    if parts[:2] == ["api", "messages"] or parts[:3] == ["api", "v1", "messages"]:
        mailpit = parts[1] == "v1"
        rest = parts[3:] if mailpit else parts[2:]
        if method == "DELETE" and not rest:
            messages.clear()
            return as_json(200, {"deleted": True}) if not mailpit else (200, "text/plain", "ok")
        if method == "GET" and not rest:
            found = list(reversed(messages.values()))
            to = query.get("to", [None])[0]
            if to:
                found = [m for m in found if to.lower() in recipients(m)]
            total = len(found)
            limit = query.get("limit", [None])[0]
            if limit and limit.isdigit():
                found = found[:int(limit)]
            if mailpit:
                return as_json(200, {"total": len(messages), "unread": 0, "count": len(found),
                                     "messages_count": total, "start": 0, "tags": [],
                                     "messages": [mp_summary(m) for m in found]})
            return as_json(200, {"total": total, "messages": [summary(m) for m in found]})
        if method == "GET" and len(rest) == 1 and not mailpit:
            msg = messages.get(rest[0])
            return as_json(200, msg) if msg else as_json(404, {"error": "no such message"})
    if method == "GET" and parts[:3] == ["api", "v1", "message"] and len(parts) == 4:
        msg = messages.get(parts[3])
        return as_json(200, mp_message(msg)) if msg else (404, "text/plain", "message not found")
    if parts[:1] == ["api"]:
        return as_json(404, {"error": "no such route"})
    return 404, "text/plain", "not found\n"


async def serve_http(reader, writer):
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout=30)
            if not line:
                break
            try:
                method, target, version = line.decode("latin-1").split()
            except ValueError:
                break
            length, keep_alive = 0, version == "HTTP/1.1"
            while True:
                header = await asyncio.wait_for(reader.readline(), timeout=30)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip()
                if name == "content-length":
                    length = int(value or 0)
                elif name == "connection":
                    keep_alive = value.lower() == "keep-alive" or (keep_alive and value.lower() != "close")
            if length:
                await reader.readexactly(min(length, 1 << 20))
            url = urlsplit(target)
            try:
                status, ctype, body = route(method.upper(), url.path, parse_qs(url.query))
            except Exception as exc:  # a bug here must not kill the sink
                status, ctype, body = 500, "text/plain", "internal error: %s\n" % exc
            data = body.encode("utf-8")
            reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "OK")
            writer.write(("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                          "Cache-Control: no-store\r\nConnection: %s\r\n\r\n" % (
                              status, reason, ctype, len(data), "keep-alive" if keep_alive else "close")
                          ).encode("latin-1") + (data if method.upper() != "HEAD" else b""))
            await writer.drain()
            if not keep_alive:
                break
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def healthcheck():
    try:
        with socket.create_connection(("127.0.0.1", SMTP_PORT), timeout=2) as s:
            if not s.recv(512).startswith(b"220"):
                return 1
            s.sendall(b"QUIT\r\n")
        with socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=2) as s:
            s.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
            if not s.recv(512).startswith(b"HTTP/1.1 200"):
                return 1
    except OSError as exc:
        print("smtp-sink is not healthy: %s" % exc, file=sys.stderr)
        return 1
    return 0


async def main():
    loop = asyncio.get_running_loop()
    smtp = await start_smtp(loop)
    web = await asyncio.start_server(serve_http, host="0.0.0.0", port=HTTP_PORT, reuse_address=True)
    print(json.dumps({"event": "listening", "smtp": SMTP_PORT, "http": HTTP_PORT}), flush=True)
    stop = asyncio.Event()
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    smtp.close()
    web.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["--healthcheck"]:
        sys.exit(healthcheck())
    asyncio.run(main())
