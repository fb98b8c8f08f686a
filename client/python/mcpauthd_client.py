#!/usr/bin/env python3
"""A stdlib-only client for the mcpauthd daemon (protocol version 1).

Written from docs/protocol.md alone. Python 3.9 or later, no dependencies.

As a library::

    from mcpauthd_client import McpAuthdClient, McpAuthdError
    with McpAuthdClient() as authd:
        token = authd.get_token("https://mcp.example.com/mcp")["access_token"]

As a command::

    python3 mcpauthd_client.py token https://mcp.example.com/mcp
    python3 mcpauthd_client.py token --header https://mcp.example.com/mcp

A credential whose token is DPoP-bound (RFC 9449: ``token_type`` "DPoP") needs
a fresh proof, signed by the daemon, on every request: use
``authd.request_headers(server_url, "POST", url)`` for each request, or
``authd.urlopen(server_url, url, data=...)``, which also retries once on the
server's ``use_dpop_nonce``. ``token --header`` refuses such a credential.

Exit status: 0 success, 1 error, 2 usage, 3 daemon not reachable, 4 a login is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

PROTOCOL_VERSION = 1
SOCKET_FILE_NAME = "mcpauthd.sock"
FRAME_DELIMITER = b"\x0c"
# A frame, delimiter excluded, is at most this many bytes (docs/protocol.md, "Framing").
MAX_FRAME_BYTES = 65536
DEFAULT_TIMEOUT_SEC = 10.0

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_NEEDS_LOGIN = 0, 1, 2, 3, 4
# Daemon error codes that a new `mcpauthd login` resolves.
LOGIN_CODES = frozenset({"not_found", "needs_login", "expired"})


class McpAuthdError(Exception):
    """An error with a stable `code`: a daemon error code, or one of
    `daemon_unavailable`, `insecure_socket`, `protocol_error` raised locally.
    Branch on `code`, never on the message."""

    def __init__(self, code: str, message: str, data: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data or {}


RUN_USER_BASE = "/run/user"


def default_socket_candidates(env: Optional[Dict[str, str]] = None, run_user_base: str = RUN_USER_BASE) -> List[str]:
    """Where the daemon may listen, in the order to try (the same rule as shared/paths.ts):
    MCPAUTHD_SOCKET alone when set; else $XDG_RUNTIME_DIR/mcpauthd/mcpauthd.sock,
    then /run/user/<uid>/mcpauthd/mcpauthd.sock when that directory is ours and 0700
    (an MCP client may have started us without XDG_RUNTIME_DIR), then
    <state dir>/run/mcpauthd.sock."""
    env = dict(os.environ) if env is None else env
    if env.get("MCPAUTHD_SOCKET"):
        return [os.path.abspath(env["MCPAUTHD_SOCKET"])]
    runtimes: List[str] = []
    # The XDG base directory spec says relative values are invalid and must be ignored.
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        runtimes.append(os.path.normpath(runtime))
    if sys.platform != "darwin":
        derived = os.path.join(run_user_base, str(os.getuid()))
        if _private_dir_problem(derived) is None:
            runtimes.append(derived)
    candidates = [os.path.join(r, "mcpauthd", SOCKET_FILE_NAME) for r in runtimes]
    candidates.append(os.path.join(_state_dir(env), "run", SOCKET_FILE_NAME))
    return list(dict.fromkeys(candidates))


def default_socket_path(env: Optional[Dict[str, str]] = None) -> str:
    """Where a daemon started with this environment listens: the first candidate."""
    return default_socket_candidates(env)[0]


def _private_dir_problem(directory: str) -> Optional[str]:
    """None when `directory` is a real directory (not a symlink), ours, mode 0700; else why not."""
    uid = os.getuid()
    try:
        st = os.lstat(directory)
    except (FileNotFoundError, NotADirectoryError):
        return f"{directory} does not exist"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return f"{directory} is not a real directory"
    if st.st_uid != uid:
        return f"{directory} is owned by uid {st.st_uid}, not by you (uid {uid})"
    mode = stat.S_IMODE(st.st_mode)
    if mode != 0o700:
        return f"{directory} has mode {mode:04o}; it must be 0700 (chmod 700 '{directory}')"
    return None


def _state_dir(env: Dict[str, str]) -> str:
    if env.get("MCPAUTHD_HOME"):
        return os.path.abspath(env["MCPAUTHD_HOME"])
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "mcpauthd")
    state = env.get("XDG_STATE_HOME") or ""
    if not os.path.isabs(state):
        state = os.path.join(home, ".local", "state")
    return os.path.join(state, "mcpauthd")


def check_socket(path: str) -> None:
    """Refuse a socket that someone else could have planted: its directory must
    be a real directory (not a symlink), ours, mode 0700, and the socket ours.
    A missing directory or socket is left to connect() (daemon not running)."""
    directory = os.path.dirname(path)
    uid = os.getuid()
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise McpAuthdError("insecure_socket", f"refusing to use {path}: {directory} is not a real directory")
    if st.st_uid != uid:
        raise McpAuthdError("insecure_socket", f"refusing to use {path}: {directory} is owned by uid {st.st_uid}, not by you (uid {uid})")
    mode = stat.S_IMODE(st.st_mode)
    if mode != 0o700:
        raise McpAuthdError(
            "insecure_socket",
            f"refusing to use {path}: {directory} has mode {mode:04o}; it must be 0700 (chmod 700 '{directory}')",
        )
    try:
        sock_st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(sock_st.st_mode):
        raise McpAuthdError("insecure_socket", f"refusing to use {path}: it is not a socket")
    if sock_st.st_uid != uid:
        raise McpAuthdError("insecure_socket", f"refusing to use {path}: it is owned by uid {sock_st.st_uid}, not by you (uid {uid})")


class McpAuthdClient:
    """One connection to the daemon; requests are answered in order of sending here
    (one at a time), matched by id as the protocol requires."""

    def __init__(self, socket_path: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_SEC) -> None:
        # Tried in order on connect; socket_path becomes the one that answered.
        self.socket_candidates = [socket_path] if socket_path else default_socket_candidates()
        self.socket_path = self.socket_candidates[0]
        self.timeout = timeout
        self._sock: Optional[socket.socket] = None
        self._buffer = b""
        self._next_id = 1
        # The latest DPoP-Nonce of each origin (RFC 9449 §9).
        self._dpop_nonces: Dict[str, str] = {}

    def __enter__(self) -> "McpAuthdClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # ------------------------------------------------------------------ methods

    def get_token(self, target: str, scopes: Optional[List[str]] = None, min_ttl: Optional[int] = None, by_resource: bool = False) -> Dict[str, Any]:
        """`token.get`: {access_token, token_type, expires_at, resource, scopes}."""
        params: Dict[str, Any] = {"resource": target} if by_resource else {"server_url": target}
        if scopes:
            params["scopes"] = list(scopes)
        if min_ttl is not None:
            params["min_ttl"] = int(min_ttl)
        return self.request("token.get", params)

    def dpop_proof(self, target: str, htm: str, htu: str, nonce: Optional[str] = None, by_resource: bool = False) -> Dict[str, Any]:
        """`dpop.proof`: {access_token, token_type: "DPoP", proof, expires_at, resource, scopes}, a proof for one request."""
        params: Dict[str, Any] = {"resource": target} if by_resource else {"server_url": target}
        params.update({"htm": htm.upper(), "htu": htu})
        if nonce is not None:
            params["nonce"] = nonce
        return self.request("dpop.proof", params)

    def request_headers(self, target: str, method: str, url: str, nonce: Optional[str] = None) -> Dict[str, str]:
        """The headers for one request to `url` with the credential for `target`: Bearer, or DPoP with a fresh proof."""
        token = self.get_token(target)
        if token.get("token_type") != "DPoP":
            return {"Authorization": f"Bearer {token['access_token']}"}
        if nonce is None:
            nonce = self._dpop_nonces.get(_origin(url))
        signed = self.dpop_proof(token["resource"], method, url, nonce, by_resource=True)
        return {"Authorization": f"DPoP {signed['access_token']}", "DPoP": signed["proof"]}

    def urlopen(self, target: str, url: str, data: Optional[bytes] = None, method: Optional[str] = None,
                headers: Optional[Dict[str, str]] = None, timeout: float = 30.0) -> Any:
        """urllib.request.urlopen with the credential's headers; on a DPoP server's
        use_dpop_nonce challenge (RFC 9449 §9) once more with its nonce, which is kept per origin."""
        verb = method or ("POST" if data is not None else "GET")
        for attempt in (0, 1):
            request = urllib.request.Request(url, data=data, method=verb, headers=dict(headers or {}))
            for name, value in self.request_headers(target, verb, url).items():
                request.add_header(name, value)
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as err:
                nonce = err.headers.get("DPoP-Nonce")
                if nonce:
                    self._dpop_nonces[_origin(url)] = nonce
                if attempt == 0 and _is_nonce_challenge(err.code, err.headers.get("WWW-Authenticate"), nonce):
                    err.close()
                    continue
                raise
            nonce = response.headers.get("DPoP-Nonce")
            if nonce:
                self._dpop_nonces[_origin(url)] = nonce
            return response
        raise AssertionError("unreachable")

    def status(self) -> Dict[str, Any]:
        """`status`, every page joined: pages are followed by `next_cursor` (docs/protocol.md)."""
        first = self.request("status", {})
        credentials = list(first.get("credentials", []))
        cursor = first.get("next_cursor")
        pages = 1
        while cursor is not None:
            pages += 1
            if pages > 100000:
                raise McpAuthdError("protocol_error", "the daemon sent status pages that do not move on")
            page = self.request("status", {"cursor": cursor})
            credentials.extend(page.get("credentials", []))
            following = page.get("next_cursor")
            if following == cursor:
                raise McpAuthdError("protocol_error", "the daemon sent status pages that do not move on")
            cursor = following
        return dict(first, credentials=credentials, total=len(credentials), next_cursor=None, next_offset=None)

    def hello(self) -> Dict[str, Any]:
        return self.request("hello", {"versions": [PROTOCOL_VERSION], "client": "mcpauthd_client.py"})

    # ------------------------------------------------------------------ wire

    def request(self, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
        sock = self._connect()
        request_id = self._next_id
        self._next_id += 1
        # json.dumps escapes U+000C inside strings, so the delimiter cannot appear in a frame.
        frame = json.dumps({"type": "request", "data": {"v": PROTOCOL_VERSION, "id": request_id, "method": method, "params": params}}).encode("utf-8")
        if len(frame) > MAX_FRAME_BYTES:
            raise McpAuthdError("invalid_request", f"request of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
        try:
            sock.sendall(frame + FRAME_DELIMITER)
        except OSError as err:
            self.close()
            raise McpAuthdError("daemon_unavailable", f"cannot write to the daemon at {self.socket_path}: {err}") from None
        while True:
            frame_type, data = self._read_frame()
            # `event` frames (login progress, subscriptions) are not answers.
            if frame_type != "response" or not isinstance(data, dict) or data.get("id") != request_id:
                continue
            if data.get("ok") is True:
                result = data.get("result")
                return result if isinstance(result, dict) else {}
            error = data.get("error") if isinstance(data.get("error"), dict) else {}
            raise McpAuthdError(str(error.get("code", "internal")), str(error.get("message", "the daemon reported an error")), error.get("data") if isinstance(error.get("data"), dict) else None)

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        tried: List[str] = []
        for path in self.socket_candidates:
            # Someone else's socket stops the search: never stepped over silently.
            check_socket(path)
            tried.append(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(path)
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                continue
            except OSError as err:
                sock.close()
                raise McpAuthdError("daemon_unavailable", f"cannot reach the daemon at {path}: {err}") from None
            self._sock = sock
            self.socket_path = path
            return sock
        where = f"nothing listens on {tried[0]}" if len(tried) == 1 else "tried " + ", ".join(tried)
        raise McpAuthdError("daemon_unavailable", f"the mcpauthd daemon is not running ({where}); start it with: mcpauthd daemon")

    def _read_frame(self) -> "tuple[str, Any]":
        sock = self._sock
        assert sock is not None
        while FRAME_DELIMITER not in self._buffer:
            if len(self._buffer) > MAX_FRAME_BYTES:
                self.close()
                raise McpAuthdError("protocol_error", "the daemon sent a frame larger than the protocol allows")
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                self.close()
                raise McpAuthdError("timeout", f"the daemon did not answer within {self.timeout} s") from None
            except OSError as err:
                self.close()
                raise McpAuthdError("daemon_unavailable", f"lost the connection to the daemon: {err}") from None
            if not chunk:
                self.close()
                raise McpAuthdError("daemon_unavailable", "the daemon closed the connection")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(FRAME_DELIMITER)
        try:
            frame = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.close()
            raise McpAuthdError("protocol_error", "the daemon sent a frame that is not JSON") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self.close()
            raise McpAuthdError("protocol_error", "the daemon sent a frame without a type")
        return frame["type"], frame.get("data")


# ---------------------------------------------------------------------- command


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


# use_dpop_nonce is an error code of the DPoP scheme only (RFC 9449 §9), so finding both is enough.
_DPOP_SCHEME = re.compile(r'(?:^|[\s,])DPoP(?:\s|,|$)', re.IGNORECASE)
_USE_DPOP_NONCE = re.compile(r'\berror\s*=\s*"?use_dpop_nonce"?', re.IGNORECASE)


def _is_nonce_challenge(status: int, www_authenticate: Optional[str], nonce: Optional[str]) -> bool:
    """RFC 9449 §9: 401, a DPoP challenge with error="use_dpop_nonce", and a DPoP-Nonce header."""
    return status == 401 and bool(nonce) and www_authenticate is not None and bool(_DPOP_SCHEME.search(www_authenticate)) and bool(_USE_DPOP_NONCE.search(www_authenticate))


def _exit_code(err: McpAuthdError) -> int:
    if err.code in ("daemon_unavailable", "timeout"):
        return EXIT_UNAVAILABLE
    if err.code in LOGIN_CODES:
        return EXIT_NEEDS_LOGIN
    if err.code == "invalid_request":
        return EXIT_USAGE
    return EXIT_ERROR


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="mcpauthd_client.py", description="Talk to the mcpauthd daemon (stdlib-only client).")
    parser.add_argument("--socket", help="daemon socket (env MCPAUTHD_SOCKET)")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print an access token for an MCP server or resource")
    token.add_argument("target", help="MCP server URL (or resource with --resource)")
    token.add_argument("--scope", help='scopes the token must carry, e.g. "a b"')
    token.add_argument("--min-ttl", type=int, help="the token must stay valid for at least this many seconds")
    token.add_argument("--resource", action="store_true", help="match the target as a resource identifier only")
    token.add_argument("--header", action="store_true", help="print 'Authorization: Bearer <token>'")
    commands.add_parser("status", help="print the daemon's status as JSON (never a token)")
    args = parser.parse_args(argv)

    try:
        with McpAuthdClient(args.socket) as client:
            if args.command == "status":
                print(json.dumps(client.status(), indent=2))
                return EXIT_OK
            scopes = args.scope.split() if args.scope else None
            result = client.get_token(args.target, scopes=scopes, min_ttl=args.min_ttl, by_resource=args.resource)
            access_token = result["access_token"]
            if args.header and result.get("token_type") == "DPoP":
                print(f"mcpauthd_client.py: the credential for {result['resource']} is DPoP-bound: every request needs its own proof, "
                      "which a printed header cannot carry; use `mcpauthd proxy` or McpAuthdClient.urlopen() instead of --header", file=sys.stderr)
                return EXIT_USAGE
            print(f"Authorization: Bearer {access_token}" if args.header else access_token)
            return EXIT_OK
    except McpAuthdError as err:
        print(f"mcpauthd_client.py: {err.message}", file=sys.stderr)
        return _exit_code(err)


if __name__ == "__main__":
    sys.exit(main())
