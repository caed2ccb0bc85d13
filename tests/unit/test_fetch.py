"""hydra_lambda.fetch: the one way the server fetches a URL a client registered. Hostile servers
(hanging, trickling, redirecting, oversized) run on loopback with FETCH_ALLOW_LOOPBACK on; the
address rules are checked with it off, where nothing may be connected to at all."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hydra_lambda import fetch
from hydra_lambda.config import reset_settings

Handler = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FETCH_ALLOW_LOOPBACK", "true")
    reset_settings()
    yield
    monkeypatch.delenv("FETCH_ALLOW_LOOPBACK")
    reset_settings()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Handler) -> str:
        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer(self)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_fetches_json_from_an_allowed_host(loopback_allowed: None, serve: Callable[[Handler], str]) -> None:
    seen: dict[str, str] = {}

    def answer(handler: BaseHTTPRequestHandler) -> None:
        seen.update(path=handler.path, host=handler.headers["Host"], accept=handler.headers["Accept"])
        _send(handler, 200, b'{"keys": []}', Content_Type="application/json")

    base = serve(answer)
    assert fetch.fetch_json(base + "/jwks.json?x=1") == {"keys": []}
    assert seen["path"] == "/jwks.json?x=1"
    assert seen["host"] == base.removeprefix("http://")  # the name, though the connection went to the address


def test_a_redirect_is_not_followed(loopback_allowed: None, serve: Callable[[Handler], str]) -> None:
    hits: list[str] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        hits.append(handler.path)
        if handler.path == "/start":
            _send(handler, 302, b"", Location="/inside")
        else:
            _send(handler, 200, b"[]")

    base = serve(answer)
    with pytest.raises(fetch.FetchError, match="302"):
        fetch.fetch(base + "/start")
    assert hits == ["/start"]


def test_an_oversized_answer_is_refused_declared_or_streamed(
    loopback_allowed: None, serve: Callable[[Handler], str]
) -> None:
    def declared(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10 * 1024 * 1024))
        handler.end_headers()

    def chunked(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            for _ in range(10 * 1024):  # 10 MB with no Content-Length
                handler.wfile.write(b"x" * 1024)
        except OSError:
            pass

    for answer in (declared, chunked):
        with pytest.raises(fetch.FetchError, match="larger than"):
            fetch.fetch(serve(answer), max_bytes=64 * 1024)


def test_a_server_that_hangs_or_trickles_meets_the_deadline(
    loopback_allowed: None, serve: Callable[[Handler], str]
) -> None:
    def hang(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(3)

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        try:
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass

    for answer in (hang, trickle):
        started = time.monotonic()
        with pytest.raises(fetch.FetchError):
            fetch.fetch(serve(answer), timeout=0.6)
        assert time.monotonic() - started < 2.5


def test_errors_and_non_json(loopback_allowed: None, serve: Callable[[Handler], str]) -> None:
    with pytest.raises(fetch.FetchError, match="HTTP 404"):
        fetch.fetch(serve(lambda h: _send(h, 404, b"no")))
    with pytest.raises(fetch.FetchError, match="did not answer JSON"):
        fetch.fetch_json(serve(lambda h: _send(h, 200, b"<html>")))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(fetch.FetchError, match="could not be fetched"):
        fetch.fetch(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/keys",  # loopback, and http
        "https://127.0.0.1/keys",
        "https://localhost/keys",  # a name that resolves to loopback
        "https://[::1]/keys",
        "https://[::ffff:127.0.0.1]/keys",  # IPv4-mapped loopback
        "https://169.254.169.254/latest/meta-data/",  # the instance metadata address
        "https://[fd00:ec2::254]/latest/meta-data/",  # its IPv6 form
        "https://10.0.0.8/keys",
        "https://192.168.1.1/keys",
        "https://172.16.0.1/keys",
        "https://100.64.0.1/keys",  # shared address space
        "https://0.0.0.0/keys",
        "https://224.0.0.1/keys",
        "http://example.com/keys",  # plain http to anywhere
        "ftp://example.com/keys",
        "file:///etc/passwd",
        "https:///keys",
        "https://exa mple.com/keys",
        "https://example.com:99999/keys",
    ],
)
def test_refuses_what_a_client_must_not_make_us_fetch(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    connects: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connects.append(address))
    with pytest.raises(fetch.FetchError):
        fetch.fetch(url)
    assert connects == []


def test_a_name_with_one_bad_address_among_good_ones_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS may answer several addresses; one inward address is enough to refuse (no connect at all)."""
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
               (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
    with pytest.raises(fetch.FetchError, match="may not be fetched from"):
        fetch.fetch("https://rebind.example/keys")


def test_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is resolved once: a second resolution (a rebinding DNS server) never happens."""
    import ipaddress

    real = socket.getaddrinfo
    lookups: list[str] = []
    connected: list[object] = []

    def resolve(host: str, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        try:
            ipaddress.ip_address(host)
            return real(host, *args, **kwargs)  # type: ignore[arg-type]  # a literal: no DNS
        except ValueError:
            lookups.append(host)
        address = "93.184.215.14" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]

    def refuse(self: socket.socket, address: object) -> None:
        connected.append(address)
        raise OSError("no network in unit tests")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(fetch.FetchError):
        fetch.fetch("https://rebind.example/keys", timeout=0.5)
    assert lookups == ["rebind.example"]
    assert connected and all(address[0] == "93.184.215.14" for address in connected)  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# post_form: back-channel logout's POST, under the same rules


@pytest.fixture
def post_server() -> Iterator[tuple[str, list[tuple[str, str, bytes]], list[int]]]:
    """A loopback server answering POSTs with the status at the head of ``statuses`` (a Location
    header with 302), keeping (path, content type, body) of each."""
    seen: list[tuple[str, str, bytes]] = []
    statuses: list[int] = [200]

    class _Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(statuses[0])
            if statuses[0] == 302:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen, statuses
    server.shutdown()
    server.server_close()


def test_post_form_sends_the_form_and_answers_the_status_without_following_redirects(
        loopback_allowed: None, post_server: tuple[str, list[tuple[str, str, bytes]], list[int]]) -> None:
    url, seen, statuses = post_server
    assert fetch.post_form(f"{url}/bc?x=1", {"logout_token": "a.b c"}) == 200
    assert seen == [("/bc?x=1", "application/x-www-form-urlencoded", b"logout_token=a.b+c")]
    statuses[0] = 302
    assert fetch.post_form(f"{url}/bc", {"logout_token": "t"}) == 302  # reported, never followed
    assert len(seen) == 2


@pytest.mark.parametrize("url", ["http://example.com/bc", "https://10.0.0.1/bc", "https://169.254.169.254/bc",
                                 "https://127.0.0.1/bc"])
def test_post_form_refuses_what_fetch_refuses(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    connects: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connects.append(address))
    with pytest.raises(fetch.FetchError):
        fetch.post_form(url, {"logout_token": "t"})
    assert connects == []


def test_post_form_meets_its_deadline(loopback_allowed: None) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        started = time.monotonic()
        with pytest.raises(fetch.FetchError):
            fetch.post_form(f"http://127.0.0.1:{listener.getsockname()[1]}/bc", {"logout_token": "t"}, timeout=0.5)
        assert time.monotonic() - started < 3
    finally:
        listener.close()
