"""python-telegram-bot's networking on aiohttp instead of httpx.

PTB ships one backend, ``HTTPXRequest``, and names ``BaseRequest`` as the place to plug in
another; no maintained package offers one, so this is it. keyq already depends on aiohttp
(slack-bolt's async app runs on it). Measured in ``keyq serve`` on this machine kind
(docs/performance-history.md): a Bot API call through httpx cost about 3 ms of CPU against
1.4 ms through aiohttp, and at 32 conversations at once httpx's connection pool held each call
for about 200 ms (aiohttp: 6 ms).

Only the transport changes: PTB still builds every request body, parses every answer and
raises its own errors, so the rate limiter, ``Forbidden`` and ``RetryAfter`` work as before.
Proxies named in the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) are honoured as
httpx honours them, but read once per host: aiohttp's own ``trust_env`` reads the environment
and ``~/.netrc`` on a worker thread for every request, which cost more than httpx saved.
"""

from __future__ import annotations

import ssl
import urllib.request
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` over one ``aiohttp.ClientSession``, with HTTPXRequest's defaults.

    Args:
        connection_pool_size: connections kept to the Bot API at most.
        read_timeout: seconds to wait for an answer.
        write_timeout: seconds to send a request (uploads get ``media_write_timeout``).
        connect_timeout: seconds to open a connection.
        pool_timeout: seconds to wait for a free connection.
        media_write_timeout: seconds to send a request that uploads a file.
    """

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str] = {}
        self._proxy_for: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=_tls()),
                headers={"User-Agent": self.USER_AGENT},
            )
            self._proxies = urllib.request.getproxies()
            self._proxy_for = {}

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def proxy(self, url: str) -> str | None:
        """The proxy the environment names for ``url``, if any (looked up once per host)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxy_for:
            chosen = self._proxies.get(parts.scheme) or self._proxies.get("all")
            if chosen and urllib.request.proxy_bypass(parts.hostname or ""):
                chosen = None
            self._proxy_for[key] = chosen or None
        return self._proxy_for[key]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        body: Any = None
        if request_data is not None:
            fields = request_data.json_parameters
            body = _multipart(fields, files) if files else fields
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write: float | None
        if isinstance(write_timeout, DefaultValue):
            write = self._media_write if files else self._write
        else:
            write = write_timeout
        # aiohttp times the wait for a free connection and the connecting together, and has no
        # write timeout of its own: the whole call is also bounded by the sum of all four.
        limits = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in limits else sum(t for t in limits if t is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with session.request(
                method, url, data=body, timeout=timeout, proxy=self.proxy(url)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's own time-outs are TimeoutErrors too
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The class only: aiohttp's message can carry the URL, and the URL carries the token.
            raise NetworkError(f"aiohttp.{type(err).__name__}") from err


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every session, with the roots httpx uses (loading them takes a
    tenth of a second)."""
    return ssl.create_default_context(cafile=certifi.where())


def _multipart(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    """An upload's body: the parameters as fields, then each file with its name and type."""
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
