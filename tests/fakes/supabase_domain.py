"""A FAKE `*.supabase.co` for tests: `https://<project>.supabase.co` served from loopback.

A connection that names only `project_id` makes Osiris call `https://<project_id>.supabase.co`.
This serves that name without touching DNS or the production code: a loopback HTTP forward proxy
that answers `CONNECT <project>.supabase.co:443`, terminates TLS with a certificate for
`*.supabase.co` signed by a throwaway test CA, and pipes the decrypted bytes to a loopback upstream
(the fake PostgREST). Clients reach it through their own standard settings, as httpx (and so
supabase-py) reads them: `HTTPS_PROXY` and `SSL_CERT_FILE` (see `client_env()`).

`connects` records every host:port asked for, so a test can assert the url that was built.
The certificates are made with the `openssl` command line tool.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path
from socketserver import StreamRequestHandler, ThreadingTCPServer

DOMAIN = "supabase.co"


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a `*.supabase.co` leaf it signs: (ca.pem, leaf.pem, leaf.key)."""
    ca_key, ca_pem = folder / "ca.key", folder / "ca.pem"
    leaf_key, leaf_csr, leaf_pem, ext = folder / "leaf.key", folder / "leaf.csr", folder / "leaf.pem", folder / "leaf.ext"

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_pem),
            "-days", "2", "-subj", "/CN=Osiris test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(leaf_key), "-out", str(leaf_csr),
            "-subj", f"/CN=*.{DOMAIN}")
    ext.write_text(f"subjectAltName=DNS:*.{DOMAIN}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(leaf_csr), "-CA", str(ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(leaf_pem), "-days", "2", "-extfile", str(ext))
    return ca_pem, leaf_pem, leaf_key


class FakeSupabaseDomain:
    """`with FakeSupabaseDomain(tmp, upstream_port) as domain:` then run clients with `domain.client_env()`."""

    def __init__(self, folder: Path, upstream_port: int, *, host: str = "127.0.0.1"):
        self.ca_pem, leaf_pem, leaf_key = make_certificates(folder)
        self.upstream = (host, upstream_port)
        self.connects: list[str] = []
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(leaf_pem, leaf_key)
        self._server = ThreadingTCPServer((host, 0), _make_handler(self))
        self._server.daemon_threads = True

    @property
    def proxy_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client_env(self) -> dict[str, str]:
        """The environment that sends a client's `https://*.supabase.co` requests here."""
        return {"HTTPS_PROXY": self.proxy_url, "https_proxy": self.proxy_url, "SSL_CERT_FILE": str(self.ca_pem),
                "NO_PROXY": "", "no_proxy": ""}

    def __enter__(self) -> "FakeSupabaseDomain":
        threading.Thread(target=self._server.serve_forever, name="fake-supabase-domain", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _make_handler(domain: FakeSupabaseDomain) -> type[StreamRequestHandler]:
    class Handler(StreamRequestHandler):
        def handle(self) -> None:
            request_line = self.rfile.readline(65536).decode("latin-1").split()
            while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                pass  # the proxy request's headers
            if len(request_line) < 2 or request_line[0] != "CONNECT":
                self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            target = request_line[1]
            domain.connects.append(target)
            host, _, port = target.rpartition(":")
            if not host.endswith(f".{DOMAIN}") or port != "443":
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            try:
                client = domain._tls.wrap_socket(self.connection, server_side=True)
            except (ssl.SSLError, OSError):
                return
            with socket.create_connection(domain.upstream) as upstream:
                _pipe(client, upstream)

    return Handler


def _pipe(client: ssl.SSLSocket, upstream: socket.socket) -> None:
    """Bytes both ways until either side closes."""

    def copy(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    back = threading.Thread(target=copy, args=(upstream, client), daemon=True)
    back.start()
    copy(client, upstream)
    back.join(timeout=30)
