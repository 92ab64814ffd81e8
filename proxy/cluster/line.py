"""The line between a cluster's nodes and its link holder, on the cluster's Redis.

The holder runs the CTI link and every agent's call state; a page's socket may be on any node.
A node asks the holder for what only it can do (a page's welcome, a command, a seat) with
`ask()`, and the holder answers through the handler it serves with. Three kinds of key, all
under the bus's prefix:

- `cluster:holder`: which node holds the link now, with its lease token (JSON). Each new holder
  writes it once its core runs, and a script lets only a higher token overwrite it, so a
  fenced-off holder can never write itself back. Every node reads it twice a second.
- `cluster:core:<token>`: the channel the holder with that token listens on. A node publishes
  its request there with the seconds it will wait (a time left, not a clock reading: nodes'
  clocks need not agree). PUBLISH says how many listened: none means that holder is gone, and
  the node reads the holder key again and retries while it waits. The holder carries the
  request out within that time, from when it heard it, or not at all.
- `cluster:reply:<node>:<process>`: the channel each node's process hears its answers on (a
  node started again under the same name never hears its predecessor's late answers).
- `cluster:nodes`: a hash, node -> JSON (last seen, sockets, agents), written every
  `HEARTBEAT_SECONDS`, read by the holder (whose pages are gone) and by `/admin`.

Why pub/sub here, where the bus uses streams: a request is worth something only while its sender
waits. Kept for later, a command would be carried out after the agent was told it failed; pub/sub
delivers it now or not at all, and tells the sender when nobody heard. Order per page holds
because a node waits for each answer before it sends the page's next request.

Payloads are JSON with a version (`v`); a node ignores a request of a version it does not know,
and its sender's wait ends with a clear "the phone system did not answer".
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from proxy.cluster import redis_address
from proxy.errors import ProxyError
from proxy.seams import BackgroundLoop, Resource

log = logging.getLogger(__name__)

LINE_VERSION = 1
HEARTBEAT_SECONDS = 2.0
# A node not heard from for this long is gone: the holder drops its pages, /admin greys it out.
NODE_GONE_SECONDS = 8.0
# How often each node looks for a new holder.
HOLDER_POLL_SECONDS = 0.5
# A holder that cannot reach Redis for this long cannot hear any node: it lets the link go.
# (over a command's socket timeout plus a poll, so one slow answer is not a lost Redis)
REDIS_LOST_SECONDS = 5.0
COMMAND_TIMEOUT = 2.0
# How often an unanswered request looks for a (new) holder again before its deadline.
RETRY_SECONDS = 0.25

# Writes the holder key only over a lower token (or none).
_CLAIM = """
local now = redis.call('GET', KEYS[1])
if now then
  local held = cjson.decode(now)
  if tonumber(held['token']) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

Handler = Callable[[str, str, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Holder:
    node: str
    token: int
    since: float


class NoHolder(ProxyError):
    """No node answered for the link before the request's deadline."""


class Refused(ProxyError):
    """The holder refused the request: `code` and `message` are for the page."""

    def __init__(self, kind: str, code: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "refused" (the core's reason) or "link" (the PBX's)
        self.code = code
        self.message = message


class CoreLine(Resource):
    """This node's end of the line: asks the holder, hears answers, and (while it holds the
    link) serves requests with `handler(op, node, body)`."""

    def __init__(
        self,
        url: str,
        node: str,
        *,
        status: Callable[[], dict[str, Any]] = dict,
        holder_changed: Callable[[Holder | None], Awaitable[None]] | None = None,
        on_beat: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.redis_url, self.prefix = redis_address(url)
        self.node = node
        self.status = status  # this node's counts, for the heartbeat
        self.holder_changed = holder_changed
        self.on_beat = on_beat  # after each heartbeat: anything owed to the holder
        self.holder: Holder | None = None
        self.last_reached = time.monotonic()  # the last time Redis answered this node
        self._redis: aioredis.Redis | None = None
        self._listener: aioredis.Redis | None = None
        self._pubsub: Any = None  # redis.asyncio.client.PubSub
        self._ids = itertools.count(1)
        self.reply_channel = self.key(f"reply:{node}:{secrets.token_hex(6)}")
        self.rejoined = False  # reported in after being taken for gone: owes its pages
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._handler: Handler | None = None
        self._serving: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._serving_tasks: set[asyncio.Task[None]] = set()
        self._last_beat = 0.0
        self._listen = BackgroundLoop(
            "cluster line", self._hear, log=log, first_backoff=0.1, max_backoff=1.0
        )
        self._watch = BackgroundLoop(
            "cluster holder watch", self._look, log=log, first_backoff=0.1, max_backoff=0.5
        )

    def key(self, name: str) -> str:
        return f"{self.prefix}cluster:{name}"

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=COMMAND_TIMEOUT)
        self._listener = aioredis.Redis.from_url(
            self.redis_url, client_name=f"{self.prefix}cluster-{self.node}"
        )
        self._claim = self._redis.register_script(_CLAIM)
        self._pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.reply_channel)
        await self._beat()
        await self._listen.start()
        await self._watch.start()

    async def aclose(self) -> None:
        await self._watch.aclose()
        await self._listen.aclose()
        for task in list(self._tasks):
            task.cancel()
        for waiter in self._waiting.values():
            waiter.cancel()
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.hdel(self.key("nodes"), self.node)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
        for client in (self._redis, self._listener):
            if client is not None:
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
        self._redis = self._listener = self._pubsub = None

    # -- asking the holder ----------------------------------------------------------------

    async def ask(self, op: str, body: dict[str, Any], within: float = 5.0) -> Any:
        """The holder's answer to `op`; `Refused` with its reason, or `NoHolder` when no holder
        answered `within` seconds (the request is then void: a holder that hears it late
        drops it, past its deadline)."""
        redis = self._client()
        deadline = time.monotonic() + within
        request_id = f"{self.reply_channel}:{next(self._ids)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        try:
            while True:
                holder = self.holder
                heard = 0
                if holder is not None:
                    # The time left, not a clock reading: nodes' clocks need not agree.
                    payload = _request(request_id, self, op, body, deadline - time.monotonic())
                    with contextlib.suppress(RedisError, OSError):
                        heard = int(await redis.publish(self.key(f"core:{holder.token}"), payload))
                if heard:
                    left = deadline - time.monotonic()
                    try:
                        reply = await asyncio.wait_for(asyncio.shield(waiter), max(left, 0.01))
                    except TimeoutError:
                        raise NoHolder(f"the link holder did not answer {op!r} in time") from None
                    return _answer(reply)
                if time.monotonic() + RETRY_SECONDS > deadline:
                    raise NoHolder(f"no node holds the PBX link ({op!r} not sent)")
                await asyncio.sleep(RETRY_SECONDS)
                with contextlib.suppress(RedisError, OSError):
                    await self._read_holder()
        finally:
            self._waiting.pop(request_id, None)

    # -- serving, while this node holds the link --------------------------------------------

    async def serve(self, token: int, handler: Handler) -> None:
        """Hear requests for holder `token`, then tell every node this node holds the link."""
        self._handler = handler
        channel = self.key(f"core:{token}")
        await self._pubsub.subscribe(channel)
        self._serving = channel
        claim = json.dumps({"node": self.node, "token": token, "since": time.time()})
        if not int(await self._claim(keys=[self.key("holder")], args=[token, claim])):
            log.warning("node %s: a newer holder than token %d is announced", self.node, token)
        await self._read_holder()

    async def stop_serving(self) -> None:
        """Hear no more requests (the lease is lost): nobody is answered from here again, and
        the requests being carried out are stopped (their senders hear nothing and give up)."""
        channel, self._serving, self._handler = self._serving, None, None
        serving, self._serving_tasks = self._serving_tasks, set()
        for task in serving:
            task.cancel()
        for task in serving:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if channel is not None and self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(channel)

    async def nodes(self) -> list[dict[str, Any]]:
        """Every node that reported in, with `age` (seconds since it was last heard)."""
        raw = await self._client().hgetall(self.key("nodes"))
        now = time.time()
        found = []
        for name, value in raw.items():
            try:
                entry = json.loads(value)
                entry["age"] = max(0.0, now - float(entry.get("seen", 0)))
            except (ValueError, TypeError, AttributeError):
                continue  # not a node's report (another version's, or damaged): not listed
            entry["node"] = name.decode() if isinstance(name, bytes) else str(name)
            found.append(entry)
        return sorted(found, key=lambda e: str(e["node"]))

    async def forget(self, node: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client().hdel(self.key("nodes"), node)

    # -- background --------------------------------------------------------------------------

    async def _hear(self) -> None:
        # No message in a second says nothing of Redis (a silent network answers nothing too):
        # only round trips (`_read_holder`, `_beat`) prove it is reachable.
        message = await self._pubsub.get_message(timeout=1.0)
        if message is None or message.get("type") != "message":
            return
        channel = message["channel"].decode()
        try:
            data = json.loads(message["data"])
        except ValueError:
            log.warning("cluster line: a message that is not JSON on %s, dropped", channel)
            return
        if not isinstance(data, dict) or data.get("v") != LINE_VERSION:
            log.warning("cluster line: a message of an unknown version on %s, dropped", channel)
            return
        if channel == self._serving:
            task = asyncio.ensure_future(self._serve_one(data))
            self._serving_tasks.add(task)
            task.add_done_callback(self._serving_tasks.discard)
        elif channel == self.reply_channel:
            waiter = self._waiting.get(str(data.get("id")))
            if waiter is not None and not waiter.done():
                waiter.set_result(data)

    async def _serve_one(self, request: dict[str, Any]) -> None:
        handler, node = self._handler, str(request.get("node", ""))
        reply_to = str(request.get("reply", ""))
        try:
            within = float(request.get("within", 0))
        except (TypeError, ValueError):
            within = 0.0
        if handler is None or within <= 0 or not reply_to.startswith(self.key("reply:")):
            return  # not ours any more, its sender gave up on it, or it says no one to answer
        try:
            # Carried out within the time its sender waits (from when it was heard), or not at
            # all: a sender told "no answer" must not have it done behind its back.
            async with asyncio.timeout(within):
                await self._answer_request(handler, node, reply_to, request)
        except TimeoutError:
            log.warning("cluster line: %r from node %s took too long", request.get("op"), node)

    async def _answer_request(
        self, handler: Handler, node: str, reply_to: str, request: dict[str, Any]
    ) -> None:
        reply: dict[str, Any] = {"v": LINE_VERSION, "id": request.get("id")}
        try:
            reply["ok"] = await handler(str(request.get("op")), node, request.get("body") or {})
        except Refused as exc:
            reply["error"] = {"kind": exc.kind, "code": exc.code, "message": exc.message}
        except Exception:
            log.exception("cluster line: %r from node %s failed", request.get("op"), node)
            reply["error"] = {
                "kind": "refused",
                "code": "server_error",
                "message": "The phone server could not do that; try again",
            }
        with contextlib.suppress(RedisError, OSError):
            await self._client().publish(reply_to, json.dumps(reply))

    async def _look(self) -> None:
        await asyncio.sleep(HOLDER_POLL_SECONDS)
        now = time.monotonic()
        await self._read_holder()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            await self._beat()
            if self.on_beat is not None:
                await self.on_beat()

    async def _beat(self) -> None:
        entry = {"seen": time.time(), **self.status()}
        new = await self._client().hset(self.key("nodes"), self.node, json.dumps(entry))
        if new and self._last_beat:
            # Our entry was gone: the holder took this node for gone and dropped its pages.
            self.rejoined = True
        self._last_beat = time.monotonic()
        self.last_reached = self._last_beat

    async def _read_holder(self) -> None:
        raw = await self._client().get(self.key("holder"))
        self.last_reached = time.monotonic()
        held = json.loads(raw) if raw else None
        holder = (
            Holder(str(held["node"]), int(held["token"]), float(held["since"])) if held else None
        )
        if holder != self.holder:
            self.holder = holder
            log.info("link holder: %s", f"{holder.node} (token {holder.token})" if holder else "-")
            if self.holder_changed is not None:
                # In a task of its own: telling a holder thousands of pages must not hold up
                # this watch, whose round trips prove Redis is reachable.
                self._spawn(self.holder_changed(holder))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("cluster line: %s", task.exception(), exc_info=task.exception())

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("the cluster line is not started")
        return self._redis


def _request(request_id: str, line: CoreLine, op: str, body: dict[str, Any], left: float) -> str:
    return json.dumps(
        {
            "v": LINE_VERSION,
            "id": request_id,
            "node": line.node,
            "reply": line.reply_channel,
            "op": op,
            "body": body,
            "within": left,
        }
    )


def _answer(reply: dict[str, Any]) -> Any:
    error = reply.get("error")
    if error:
        raise Refused(
            str(error.get("kind", "refused")), str(error.get("code")), str(error.get("message"))
        )
    return reply.get("ok")
