"""keyq's Bot API transport (aiohttp) against PTB's own (httpx), on servers on 127.0.0.1.

The same Bot calls go through both and the server compares what arrives; time-outs, refused
connections, proxies from the environment and certificate checks behave as PTB's own
transport's do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from channels.telegram.request import AiohttpRequest
from tests.fakes.telegram_api import TOKEN

ME = {"id": 1, "is_bot": True, "first_name": "keyq", "username": "keyq_bot"}
SENT = {
    "message_id": 7,
    "date": 1_700_000_000,
    "chat": {"id": 42, "type": "private"},
    "text": "ok",
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # every byte value, in a binary upload


class Capture:
    """A Bot API on 127.0.0.1 that records each request's method, host, fields and files, and
    answers all but getMe after ``delay`` seconds."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.seen: list[dict[str, Any]] = []
        self.delay = delay
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, *, tls: ssl.SSLContext | None = None) -> Capture:
        """Listens on a free port, over TLS with ``tls``."""
        app = web.Application()
        app.router.add_route("POST", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.path.rsplit("/", 1)[-1]
        fields: dict[str, Any] = {}
        files: dict[str, tuple[str | None, str | None, bytes]] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None:  # type: ignore[union-attr]
                    content = await part.read()  # type: ignore[union-attr]
                    ctype = part.headers.get("Content-Type")
                    files[part.name or ""] = (part.filename, ctype, bytes(content))  # type: ignore[union-attr]
                else:
                    fields[part.name or ""] = _value(await part.text())  # type: ignore[union-attr]
        else:
            for key, value in (await request.post()).items():
                fields[key] = _value(str(value))
        self.seen.append({"method": method, "host": request.host, "fields": fields, "files": files})
        if self.delay and method != "getMe":
            await asyncio.sleep(self.delay)
        result: Any = ME if method == "getMe" else SENT
        return web.json_response({"ok": True, "result": result})


def _value(text: str) -> Any:
    """A field as PTB sends it: JSON, except that a string goes as itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@pytest.fixture
async def server() -> AsyncIterator[Capture]:
    capture = await Capture().start()
    yield capture
    await capture.stop()


async def through(request: BaseRequest, base_url: str, call: str) -> Any:
    """One call (``send`` or ``photo``) by a Bot on ``request``; the Bot is shut down after."""
    bot = Bot(TOKEN, base_url=base_url, request=request)
    async with bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Answer now", callback_data="a:1")]])
        if call == "send":
            return await bot.send_message(42, "Hello, é ✓ & = +", reply_markup=markup)
        return await bot.send_photo(42, PNG, caption="Figures, March", filename="report.png")


@pytest.mark.parametrize("call", ["send", "photo"])
async def test_a_call_arrives_as_ptbs_own_transport_sends_it(server: Capture, call: str) -> None:
    base = f"http://127.0.0.1:{server.port}/bot"
    ours = await through(AiohttpRequest(), base, call)
    theirs = await through(HTTPXRequest(), base, call)
    assert ours.message_id == theirs.message_id == 7  # the answer parsed alike
    mine = [s for s in server.seen if s["method"] != "getMe"]
    assert len(mine) == 2
    assert mine[0] == mine[1]  # method, fields, and every uploaded byte with its name and type
    if call == "photo":
        (name, ctype, content) = mine[0]["files"]["photo"]
        assert content == PNG and name == "report.png" and ctype == "image/png"
        assert mine[0]["fields"]["caption"] == "Figures, March"
    else:
        assert mine[0]["fields"]["text"] == "Hello, é ✓ & = +"
        assert mine[0]["fields"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Answer now"


async def test_a_bot_api_that_does_not_answer_in_time_is_a_time_out() -> None:
    slow = await Capture(delay=2.0).start()
    try:
        bot = Bot(
            TOKEN,
            base_url=f"http://127.0.0.1:{slow.port}/bot",
            request=AiohttpRequest(read_timeout=0.3),
        )
        async with bot:
            started = asyncio.get_running_loop().time()
            with pytest.raises(TimedOut):
                await bot.send_message(42, "hello")
            assert asyncio.get_running_loop().time() - started < 1.5
    finally:
        await slow.stop()


async def test_a_refused_connection_is_a_network_error_that_names_no_token() -> None:
    closed = await Capture().start()
    port = closed.port
    await closed.stop()  # nothing listens there now
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
        assert TOKEN not in str(raised.value) and "getMe" not in str(raised.value)
    finally:
        await request.shutdown()


async def test_a_proxy_in_the_environment_is_used_unless_no_proxy_names_the_host(
    server: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = await Capture().start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        # A host that does not resolve: only the proxy can have taken the call.
        await through(AiohttpRequest(), "http://api.telegram.invalid/bot", "send")
        assert [s["host"] for s in proxy.seen] == ["api.telegram.invalid"] * 2  # getMe, send
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        await through(AiohttpRequest(), f"http://127.0.0.1:{server.port}/bot", "send")
        assert len(proxy.seen) == 2 and len(server.seen) == 2
    finally:
        await proxy.stop()


async def test_a_call_does_no_work_on_a_thread(
    server: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp's trust_env reads the environment and ~/.netrc on a worker thread for every
    request: more CPU than httpx cost. keyq reads proxies once instead."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # bypassed below, but looked up
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    loop = asyncio.get_running_loop()
    handed: list[object] = []
    real = loop.run_in_executor

    def counted(executor: Any, func: Any, *args: Any) -> Any:
        handed.append(func)
        return real(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", counted)
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{server.port}/bot", request=AiohttpRequest())
    async with bot:
        for _ in range(5):
            await bot.send_message(42, "hello")
    assert len(server.seen) == 6 and handed == []


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 that no public root signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_a_bot_api_whose_certificate_no_root_signed_is_refused(tmp_path: Path) -> None:
    """TLS is verified: a server presenting a self-signed certificate gets no request."""
    server = await Capture().start(tls=_self_signed(tmp_path))
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"https://127.0.0.1:{server.port}/bot{TOKEN}/getMe")
        assert "Certificate" in str(raised.value) and TOKEN not in str(raised.value)
        assert server.seen == []
    finally:
        await request.shutdown()
        await server.stop()
