"""The Redis side of the Streams broker: its key names and the Lua scripts that change them.

Every key of a flow carries the flow's id as its hash tag (``flowmixer:{FLOW}:...``), so a
script that settles a message of one component and publishes to another touches one slot.
Per component input ``C`` of flow ``F``:

- ``flowmixer:{F}:C:stream``: the messages (field ``e``: the envelope as JSON), read by the
  consumer group named after ``C``; an entry is deleted when it is acknowledged;
- ``flowmixer:{F}:C:delayed``: retries waiting for their time (sorted set, score: due time in
  milliseconds, member: the envelope);
- ``flowmixer:{F}:C:parked``: messages waiting for their account (hash, envelope id ->
  ``{"error": ..., "envelope": ...}``);
- ``flowmixer:{F}:C:burying``: dead letters on their way to the store (hash, letter id ->
  the letter), so that a crash between Redis and the store loses none.

``flowmixer:{F}:sent:ID`` marks a message published by a script that may run twice (a put whose
answer was lost, an outbox row relayed again): the second run publishes nothing.

A script that settles a delivered entry first checks that the entry is still pending for the
calling consumer; when another consumer claimed it meanwhile (this one was taken for dead),
it does nothing at all, so a hop's publishes happen once, with the settlement that counts.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "flowmixer:"
ENTRY_FIELD: Final = "e"
SENT_TTL: Final = 7 * 24 * 3600  # seconds a relayed message's mark is kept (an outbox row's life)
PUT_TTL: Final = 600  # seconds a put's mark is kept: a lost answer is retried well within it


def flow_tag(flow_id: str) -> str:
    return f"{PREFIX}{{{flow_id}}}:"


def channel_keys(flow_id: str, component_id: str) -> tuple[str, str, str, str]:
    """The stream, delayed, parked and burying keys of a component's input."""
    base = f"{flow_tag(flow_id)}{component_id}:"
    return base + "stream", base + "delayed", base + "parked", base + "burying"


def sent_key(flow_id: str, envelope_id: str) -> str:
    return f"{flow_tag(flow_id)}sent:{envelope_id}"


def flow_pattern(flow_id: str) -> str:
    """A ``SCAN MATCH`` pattern for every key of ``flow_id`` (glob characters escaped)."""
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in flow_tag(flow_id))
    return escaped + "*"


# The bound counts what is queued (entries not delivered to any consumer), delayed and parked.
_HELD: Final = """
local function held(stream, delayed, parked, group)
  local pending = 0
  local summary = redis.pcall('XPENDING', stream, group)
  if type(summary) == 'table' and summary.err == nil then pending = summary[1] end
  return redis.call('XLEN', stream) - pending + redis.call('ZCARD', delayed)
    + redis.call('HLEN', parked)
end
"""

# KEYS: stream, delayed, parked, mark. ARGV: group, places this process holds back (its
# reservations), envelope, mark ttl, bound. The new entry's id; when the bound is full, the
# count it holds (a number: the caller learns it without another look); 'dup' when the mark
# says this envelope was published already (a retried put).
PUT: Final = (
    _HELD
    + """
if redis.call('EXISTS', KEYS[4]) == 1 then return 'dup' end
local count = held(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
if count + tonumber(ARGV[2]) >= tonumber(ARGV[5]) then
  return count
end
redis.call('SET', KEYS[4], 1, 'EX', ARGV[4])
return redis.call('XADD', KEYS[1], '*', 'e', ARGV[3])
"""
)

# KEYS: stream, delayed, parked. ARGV: group, now (ms), most to move.
# Moves the delayed retries that are due into the stream; returns {held, stream length +
# delayed, next due time in ms or -1}.
PROMOTE: Final = (
    _HELD
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, envelope in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'e', envelope)
  redis.call('ZREM', KEYS[2], envelope)
end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local next_due = -1
if first[2] then next_due = tonumber(first[2]) end
return {held(KEYS[1], KEYS[2], KEYS[3], ARGV[1]),
  redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]), next_due}
"""
)

# KEYS: stream, delayed, parked, burying, then one stream per message sent.
# ARGV: group, consumer, entry id ('' when not delivered from here), outcome ('ack', 'retry',
# 'park', 'bury'), its field (retry: due ms; park: envelope id; bury: letter id), its value
# (the envelope, the parked record or the letter), how many new entries to read for this
# consumer once settled (0: none), then one envelope per sent stream.
# {1, entries read} when settled (the settling worker's next message comes with the answer, not
# in a read of its own), 0 when the entry is not this consumer's any more (nothing done).
SETTLE: Final = """
local entry = ARGV[3]
if entry ~= '' then
  local mine = redis.pcall('XPENDING', KEYS[1], ARGV[1], entry, entry, 1)
  if type(mine) ~= 'table' or mine.err ~= nil or mine[1] == nil or mine[1][2] ~= ARGV[2] then
    return 0
  end
  redis.call('XACK', KEYS[1], ARGV[1], entry)
  redis.call('XDEL', KEYS[1], entry)
end
local outcome = ARGV[4]
if outcome == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
elseif outcome == 'park' then
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
elseif outcome == 'bury' then
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
end
for i = 5, #KEYS do
  redis.call('XADD', KEYS[i], '*', 'e', ARGV[i + 3])
end
if ARGV[7] ~= '0' then
  local read = redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[7],
    'STREAMS', KEYS[1], '>')
  if type(read) == 'table' and read.err == nil and read[1] then return {1, read[1][2]} end
end
return {1, {}}
"""

# KEYS: stream. ARGV: group, consumer, idle (ms), then entry ids.
# Sets the idle time of those of the ids still pending for this consumer (0: a touch that
# keeps long handlers' entries from being claimed; the visibility timeout: a release, so
# another consumer takes them at once); returns the ids that are not this consumer's any more.
TOUCH: Final = """
local lost = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local mine = redis.pcall('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if type(mine) == 'table' and mine.err == nil and mine[1] ~= nil and mine[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'IDLE', ARGV[3], 'JUSTID')
  else
    table.insert(lost, id)
  end
end
return lost
"""

# KEYS: stream, parked. ARGV: envelope id, envelope. 1 if it was parked (and is queued now).
UNPARK: Final = """
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[1], '*', 'e', ARGV[2])
return 1
"""

# KEYS: stream, delayed, parked, mark. ARGV: outcome ('ready', 'retry', 'park'), field, value,
# mark ttl. Publishes an outbox row unless its mark says it was already (1 if published now).
RELAY: Final = """
if not redis.call('SET', KEYS[4], 1, 'NX', 'EX', ARGV[4]) then return 0 end
if ARGV[1] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
elseif ARGV[1] == 'park' then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
else
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[3])
end
return 1
"""
