"""A loopback HTTP proxy between the CLI and the emulator that misbehaves on purpose.

It counts every API call by action (`secretsmanager.CreateSecret`, `ssm.GetParametersByPath`,
`sts.GetCallerIdentity`, ...) and can add latency, throttle actions to AWS's quotas (answered
as `ThrottlingException`, as AWS does), answer 5xx, drop connections before forwarding, and
lose replies after forwarding (the request reached the emulator, the client never hears back).
Faults are drawn from a seeded generator so a failing run can be replayed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class TokenBucket:
    """`rate` calls per second with a burst of `rate` (how AWS quotas behave, roughly), or of
    `burst` when the quota documents one (RDS: 12/s sustained, 300 in a burst)."""

    rate: float
    burst: float | None = None
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def capacity(self) -> float:
        return self.rate if self.burst is None else self.burst

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class Faults:
    latency: float = 0.0  # seconds added before forwarding each request
    error_rate: float = 0.0  # fraction answered 500 without forwarding
    drop_rate: float = 0.0  # fraction whose connection is closed without forwarding
    lose_reply_rate: float = 0.0  # fraction forwarded whose reply is never sent
    only: set[str] | None = None  # restrict error/drop/lose faults to these actions
    lose_reply_actions: set[str] | None = None  # restrict lost replies to these actions

    def applies(self, action: str) -> bool:
        return self.only is None or action in self.only


def _service_of_target(target: str) -> str:
    prefix = target.split(".", 1)[0]
    known = {
        "AmazonSSM": "ssm",
        "secretsmanager": "secretsmanager",
        "AmazonEC2ContainerServiceV20141113": "ecs",
        "AWSKMS": "kms",
    }
    return known.get(prefix, prefix.lower())


def action_of(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """`service.Operation` for JSON and query protocols; `lambda.METHOD /path` for REST."""
    target = headers.get("x-amz-target")
    if target:
        service = _service_of_target(target)
        return f"{service}.{target.split('.', 1)[1]}"
    auth = headers.get("authorization", "")
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = scope.group(1) if scope else "unknown"
    if body and b"Action=" in body:
        params = parse_qs(body.decode("utf-8", "replace"))
        return f"{service}.{params.get('Action', ['?'])[0]}"
    query = parse_qs(urlsplit(path).query)
    if "Action" in query:
        return f"{service}.{query['Action'][0]}"
    return f"{service}.{method} {urlsplit(path).path}"


# Query and JSON protocols name the operation ("ssm.GetParameter"); REST ones give the method
# and path ("lambda.GET /2015-03-31/functions/f/configuration").
READERS = ("Get", "List", "Describe", "BatchGet", "GET ", "HEAD ")
SIGNED_BY = "__signed_by"  # in a recorded request: the access key id that signed it


def is_write(action: str) -> bool:
    """Whether a request of `action` ("service.Operation") can change state."""
    return not action.split(".", 1)[-1].startswith(READERS)


# AWS's quota tables, row by row: the operations a row meters together, and its calls per
# second. Written from the Secrets Manager user guide's table ("Combined rate of PutSecretValue,
# RemoveRegionsFromReplication, ReplicateSecretToRegion, StopReplicationToReplica, UpdateSecret,
# and UpdateSecretVersionStage API requests: 50 per second", ...) and SSM's, independently of
# the product's own model in backends/quotas.py, so that a mistake there shows up as
# throttling here.
def _sm(*operations: str) -> frozenset[str]:
    return frozenset(f"secretsmanager.{operation}" for operation in operations)


AWS_QUOTA_TABLE: tuple[tuple[frozenset[str], float], ...] = (
    (_sm("CreateSecret"), 50),
    (
        _sm(
            "PutSecretValue",
            "RemoveRegionsFromReplication",
            "ReplicateSecretToRegions",
            "StopReplicationToReplica",
            "UpdateSecret",
            "UpdateSecretVersionStage",
        ),
        50,
    ),
    (_sm("TagResource", "UntagResource"), 50),
    (_sm("RotateSecret", "CancelRotateSecret"), 50),
    (_sm("DeleteSecret"), 50),
    (_sm("RestoreSecret"), 50),
    (_sm("DescribeSecret", "GetSecretValue"), 10_000),
    (_sm("ListSecrets"), 100),
    (_sm("ListSecretVersionIds"), 50),
    (_sm("BatchGetSecretValue"), 100),
    (_sm("GetRandomPassword"), 50),
    (frozenset({"ssm.GetParameter", "ssm.GetParameters", "ssm.GetParametersByPath"}), 40),
    # No published quota; throttled hard (the tool paces it at 10/s: backends/quotas.py).
    (frozenset({"ssm.DescribeParameters"}), 10),
)


def quota_floor(calls: dict[str, int]) -> tuple[float, str]:
    """The least time AWS_QUOTA_TABLE allows for `calls` (action -> count) and the row that
    sets it: the busiest row's calls over its rate. Benches state their floors with it."""
    best, why = 0.0, "no call has a quota"
    for actions, rate in AWS_QUOTA_TABLE:
        count = sum(n for action, n in calls.items() if action in actions)
        if count / rate > best:
            names = sorted(action.split(".", 1)[1] for action in actions if calls.get(action))
            best, why = count / rate, f"{count} {' + '.join(names)} at {rate:g}/s"
    return best, why


class FaultProxy:
    """Start with `start()`; point `AWS_ENDPOINT_URL` at `.url`; read `.calls` afterwards."""

    def __init__(self, upstream: str, *, seed: int = 1234) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.faults = Faults()
        self.quotas: dict[str, TokenBucket] = {}
        self.shared_quotas: list[tuple[set[str], TokenBucket]] = []
        self.calls: Counter[str] = Counter()  # requests received, by action
        self.forwarded: Counter[str] = Counter()  # requests that reached the emulator
        self.throttled: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()  # 5xx, drops and lost replies
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.denied: set[str] = set()  # answered AccessDeniedException
        self.scripted: dict[str, list[str]] = {}  # decisions for the next requests, by action
        # answered without forwarding: (status, body, content type, answers left or None,
        # requests let through first)
        self.canned: dict[str, tuple[int, bytes, str, int | None, int]] = {}
        self.recording: set[str] = set()  # actions whose requests' parameters are kept
        self.recorded: dict[str, list[dict[str, object]]] = {}
        # action -> (requests let through first, the action whose arrivals release the rest,
        # how many of them)
        self.holds: dict[str, tuple[int, str, int]] = {}
        self.arrivals: Counter[str] = Counter()
        self.arrival = threading.Condition()
        self.hold_timeouts: Counter[str] = Counter()  # holds that ended without their release
        self.hold_timeout = 30.0
        self.hung = threading.Event()  # set: `hang` replies are given up (connection dropped)
        # action -> seconds between the bytes of its (forwarded) reply; bytes sent per reply
        self.trickles: dict[str, float] = {}
        self.trickled: list[tuple[int, int]] = []  # (bytes sent, bytes in the reply)
        self.stopping = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- configuration ---------------------------------------------------------------------
    def throttle(self, action: str, rate: float, *, burst: float | None = None) -> None:
        """Allow `action` at most `rate` times a second; the rest get ThrottlingException."""
        self.quotas[action] = TokenBucket(rate, burst)

    def throttle_shared(
        self, actions: set[str], rate: float, *, burst: float | None = None
    ) -> None:
        """One quota shared by several actions (SSM's GetParameter* share 40/s)."""
        self.shared_quotas.append((set(actions), TokenBucket(rate, burst)))

    def aws_quotas(self) -> None:
        """The per-account quotas of AWS's quota tables (AWS_QUOTA_TABLE): one token bucket
        per row, shared by every operation of the row."""
        for actions, rate in AWS_QUOTA_TABLE:
            if len(actions) == 1:
                self.throttle(next(iter(actions)), rate)
            else:
                self.throttle_shared(set(actions), rate)

    def buckets_of(self, action: str) -> list[TokenBucket]:
        """The buckets a request of `action` draws from (for tests of the model itself)."""
        found = [self.quotas[action]] if action in self.quotas else []
        return found + [bucket for actions, bucket in self.shared_quotas if action in actions]

    def deny(self, action: str) -> None:
        """Answer `action` with AccessDeniedException (HTTP 400), as IAM would."""
        self.denied.add(action)

    def script(self, action: str, *decisions: str) -> None:
        """The next requests of `action` meet these faults in order (`lose`, `error`, `drop`,
        `throttle`, `forward`, `hang`, or `fail:CODE` for an HTTP 400 with that AWS error
        code, and `fail:CODE:STATUS:MESSAGE` for AWS's exact answer, e.g. Lambda's
        `fail:PreconditionFailedException:412:...`, or `reply:STATUS:BODY` to answer with
        that body without forwarding: a state moto never shows), then the usual rules apply:
        deterministic fault tests. `hang` forwards the request and then keeps the client
        waiting for a reply that never comes (until `release_hung()` or `stop()`): a process
        can be killed with its write done in AWS."""
        with self.lock:
            self.scripted[action] = list(decisions)

    def trickle(self, action: str, every: float) -> None:
        """Forward `action`, then send its reply one byte every `every` seconds (padded so
        that it outlasts any deadline of the tests): no socket read timeout ever trips. The
        bytes sent before the client hung up are in `trickled`."""
        with self.lock:
            self.trickles[action] = every

    def lose_first(self, action: str, n: int = 1) -> None:
        """Forward the first `n` requests of `action` but lose their replies."""
        self.script(action, *["lose"] * n)

    def hold(
        self, action: str, *, after: int, until: str, count: int = 1, timeout: float = 30
    ) -> None:
        """Let `after` requests of `action` through, then keep each later one waiting until
        `count` requests of `until` have arrived (or `timeout` passed: counted in
        `hold_timeouts`). Proves an order without timing: writes begin while a listing is
        still going on; a second call starts while the first is unanswered."""
        with self.arrival:  # counted from now
            self.arrivals[action] = self.arrivals[until] = 0
            self.holds[action] = (after, until, count)
            self.hold_timeout = timeout

    def meanwhile(
        self, action: str, change: Callable[[], None], *, after: int = 0, timeout: float = 60
    ) -> threading.Thread:
        """Stage a race without timing: let `after` requests of `action` through, hold the next
        one, run `change` (someone else's write, made straight to the emulator) while it waits,
        then let it go on. Join the thread returned; `hold_timeouts[action]` stays 0 when the
        race went as staged."""
        done = f"meanwhile.{action}"  # an action no client sends: only this releases the hold
        self.hold(action, after=after, until=done, timeout=timeout)

        def race() -> None:
            with self.arrival:
                self.arrival.wait_for(
                    lambda: self.arrivals[action] > after or self.stopping.is_set(), timeout
                )
            try:
                change()
            finally:
                with self.arrival:
                    self.arrivals[done] += 1
                    self.arrival.notify_all()

        thread = threading.Thread(target=race, name="meanwhile", daemon=True)
        thread.start()
        return thread

    def answer(
        self,
        action: str,
        body: bytes,
        status: int = 200,
        *,
        times: int | None = None,
        after: int = 0,
        content_type: str = "application/x-amz-json-1.1",
    ) -> None:
        """Answer `action` with `body` without forwarding (e.g. a reply the SDK cannot use,
        or AWS's documented answer where the emulator differs): every time, or `times`
        requests only, after letting `after` through. Query-protocol services (RDS, IAM,
        STS) answer `text/xml`."""
        with self.lock:
            self.canned[action] = (status, body, content_type, times, after)

    def record(self, *actions: str) -> None:
        """Keep the parameters of every later request of these actions (`requests`)."""
        with self.lock:
            self.recording.update(actions)

    def requests(self, action: str) -> list[dict[str, object]]:
        """The parameters of the recorded requests of `action`, in arrival order: a query
        protocol's form fields (one value each), or a JSON protocol's body."""
        with self.lock:
            return list(self.recorded.get(action, ()))

    def _keep(self, action: str, body: bytes, headers: dict[str, str]) -> None:
        if action not in self.recording:
            return
        params: dict[str, object]
        try:
            parsed = json.loads(body) if body.lstrip().startswith(b"{") else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            params = parsed
        else:
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            params = {key: values[0] for key, values in form.items()}
        # Which access key signed it (SigV4's Credential=KEY/date/region/service/...).
        signer = re.search(r"Credential=([^/,\s]+)/", headers.get("authorization", ""))
        params[SIGNED_BY] = signer.group(1) if signer else None
        with self.lock:
            self.recorded.setdefault(action, []).append(params)

    def reset_counts(self) -> None:
        with self.lock:
            for counter in (self.calls, self.forwarded, self.throttled, self.injected):
                counter.clear()

    def count(self, prefix: str = "") -> int:
        """Requests received whose action starts with `prefix`."""
        with self.lock:
            return sum(n for action, n in self.calls.items() if action.startswith(prefix))

    def writes(self) -> int:
        """Requests received that can change state (everything but reads and lists)."""
        return sum(self.write_calls().values())

    def write_calls(self) -> dict[str, int]:
        """The requests that can change state, by action."""
        with self.lock:
            return {action: n for action, n in self.calls.items() if is_write(action)}

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def release_hung(self) -> None:
        """Drop the connections that `hang` keeps waiting."""
        self.hung.set()

    def stop(self) -> None:
        self.hung.set()
        self.stopping.set()
        with self.arrival:
            self.arrival.notify_all()  # holds end, and what they held is dropped
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def held(self, action: str) -> None:
        """Note the arrival of `action`; wait here if a hold applies to it."""
        with self.arrival:
            self.arrivals[action] += 1
            self.arrival.notify_all()
            hold = self.holds.get(action)
            if hold is None or self.arrivals[action] <= hold[0]:
                return
            _, until, count = hold
            released = self.arrival.wait_for(
                lambda: self.arrivals[until] >= count or self.stopping.is_set(), self.hold_timeout
            )
            if not released:
                self.hold_timeouts[action] += 1

    # -- decisions ---------------------------------------------------------------------------
    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.random.random() < rate

    def decide(self, action: str) -> str:
        """`forward`, `throttle`, `error`, `drop`, `lose`, `hang`, `deny` or `canned`."""
        if action in self.denied:
            return "deny"
        with self.lock:
            canned = self.canned.get(action)
            if canned is not None:
                status, body, content_type, left, skip = canned
                if skip > 0:
                    self.canned[action] = (status, body, content_type, left, skip - 1)
                elif left is None:
                    return "canned"
                elif left > 0:
                    self.canned[action] = (status, body, content_type, left - 1, 0)
                    return "canned"
        with self.lock:
            if self.scripted.get(action):
                return self.scripted[action].pop(0)
            if action in self.trickles:
                return "trickle"
        bucket = self.quotas.get(action)
        if bucket is not None and not bucket.take():
            return "throttle"
        for actions, shared in self.shared_quotas:
            if action in actions and not shared.take():
                return "throttle"
        faults = self.faults
        if faults.applies(action):
            if self._roll(faults.error_rate):
                return "error"
            if self._roll(faults.drop_rate):
                return "drop"
            lose_ok = faults.lose_reply_actions is None or action in faults.lose_reply_actions
            if lose_ok and self._roll(faults.lose_reply_rate):
                return "lose"
        return "forward"


def _failure(decision: str) -> tuple[str, int, str]:
    """`fail:CODE[:STATUS[:MESSAGE]]` as (code, HTTP status, message)."""
    parts = decision.split(":", 3)[1:]
    code = parts[0]
    status = int(parts[1]) if len(parts) > 1 else 400
    message = parts[2] if len(parts) > 2 else "injected failure"
    return code, status, message


class _Server(ThreadingHTTPServer):
    """A client that hangs up mid-request (what a deadline does) is not the proxy's error:
    socketserver would print its traceback on stderr, where an in-process run's captured
    stderr picks it up. Other errors are printed as before."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without TCP_NODELAY, Nagle's algorithm and
        # delayed ACKs stall every reply by ~40 ms, which would swamp the latency we inject.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        proxy = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        action = action_of(self.command, self.path, headers, body)
        with proxy.lock:
            proxy.calls[action] += 1
        proxy._keep(action, body, headers)
        proxy.held(action)
        if proxy.faults.latency:
            proxy.stopping.wait(proxy.faults.latency)
        if proxy.stopping.is_set():
            # The test is over: a request held or delayed until now must not reach the
            # emulator, which the next test finds reset and expects to stay empty.
            self._drop()
            return
        decision = proxy.decide(action)
        if decision == "throttle":
            with proxy.lock:
                proxy.throttled[action] += 1
            self._reply_error(400, "ThrottlingException", "Rate exceeded", headers)
            return
        if decision.startswith("fail:"):
            code, status, message = _failure(decision)
            with proxy.lock:
                proxy.injected[f"fail:{code} {action}"] += 1
            self._reply_error(status, code, message, headers)
            return
        if decision == "deny":
            self._reply_error(400, "AccessDeniedException", "not authorized (injected)", headers)
            return
        if decision == "canned" or decision.startswith("reply:"):
            content_type = "application/x-amz-json-1.1"
            if decision == "canned":
                status, canned, content_type, _, _ = proxy.canned[action]
            else:
                code, _, text = decision[6:].partition(":")
                status, canned = int(code), text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(canned)))
            self.end_headers()
            self.wfile.write(canned)
            return
        if decision == "error":
            with proxy.lock:
                proxy.injected[f"error {action}"] += 1
            self._reply_error(500, "InternalServiceError", "injected failure", headers)
            return
        if decision == "drop":
            with proxy.lock:
                proxy.injected[f"drop {action}"] += 1
            self._drop()
            return
        status, reply_headers, reply = self._forward(body)
        with proxy.lock:
            proxy.forwarded[action] += 1
        if decision in ("lose", "hang"):
            with proxy.lock:
                proxy.injected[f"{decision} {action}"] += 1
            if decision == "hang":
                proxy.hung.wait(proxy.hold_timeout)
            self._drop()
            return
        if decision == "trickle":
            self._trickle(status, reply_headers, reply, proxy.trickles[action])
            return
        self.send_response(status)
        for key, value in reply_headers:
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        proxy = self.owner
        connection = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=60
        )
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _trickle(
        self, status: int, headers: list[tuple[str, str]], reply: bytes, every: float
    ) -> None:
        lines = [f"HTTP/1.1 {status} OK".encode()]
        for key, value in headers:
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                lines.append(f"{key}: {value}".encode())
        lines += [b"X-Padding: " + b"x" * 2000, f"Content-Length: {len(reply)}".encode()]
        whole = b"\r\n".join(lines) + b"\r\n\r\n" + reply
        sent = 0
        with contextlib.suppress(OSError):
            for byte in whole:
                if self.owner.stopping.wait(every):
                    break
                self.connection.send(bytes([byte]))
                sent += 1
        with self.owner.lock:
            self.owner.trickled.append((sent, len(whole)))
        self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _reply_error(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        # JSON for the JSON protocols (Secrets Manager, SSM: x-amz-target) and for REST-JSON
        # services such as Lambda, whose GET requests carry no content type; XML otherwise.
        rest_json = "/2015-03-31/" in self.path
        if headers.get("x-amz-target") or "json" in headers.get("content-type", "") or rest_json:
            payload = json.dumps({"__type": code, "message": message}).encode()
            content_type = "application/x-amz-json-1.1"
        else:
            payload = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ).encode()
            content_type = "text/xml"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-ErrorType", code)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
