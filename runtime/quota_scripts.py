"""The Lua scripts of the Redis quota state (:mod:`runtime.quota_redis`).

Each script runs atomically on the server and reads the time there (``TIME``), so that every
process sees one clock whatever its own says. The arithmetic is that of
:mod:`runtime.quota_memory`: a bucket per rule and key of ``limit`` calls draining at
``limit / window`` per second, and a window per gate holding what the service said (the calls
remaining until its reset, a hold after a 429) with the calls in flight counted as spent.

Keys of one gate: its window (a hash: ``limit``, ``remaining``, ``reset`` and ``held``, times in
seconds on the server's clock), its calls in flight (a sorted set of call ids by the time they
were let through) and its buckets (hashes: ``level``, ``checked``). Waits are returned as
strings of seconds (a Lua number would reach the client as a whole number).
"""

from __future__ import annotations

from typing import Final

from runtime.quota import SAME_WINDOW

SERVER_CLOCK: Final = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

_COMMON: Final = f"""
local SAME_WINDOW = {SAME_WINDOW!r}
local EPSILON = 1e-9

local function number(value)
  if value then return tonumber(value) end
  return nil
end

local function fmt(x)
  return string.format('%.17g', x)
end

-- Calls let through and not yet over; those older than `stale` seconds are taken for calls of
-- a process that ended without saying so.
local function in_flight(fkey, t, stale)
  redis.call('ZREMRANGEBYSCORE', fkey, '-inf', fmt(t - stale))
  return redis.call('ZCARD', fkey)
end

-- Seconds the window stays closed to a caller with `ahead` callers before it.
local function closed_for(wkey, flying, ahead, t)
  local w = redis.call('HMGET', wkey, 'held', 'reset', 'remaining', 'limit')
  local held = number(w[1]) or 0
  if t < held then return held - t end
  local reset = number(w[2])
  local remaining = number(w[3])
  if reset and t >= reset then
    -- A new window: calls still unanswered may be counted in it.
    reset = nil
    redis.call('HDEL', wkey, 'reset')
    local limit = number(w[4])
    if limit then
      remaining = math.max(0, limit - flying)
      redis.call('HSET', wkey, 'remaining', remaining)
    else
      remaining = nil
      redis.call('HDEL', wkey, 'remaining')
    end
  end
  if remaining == nil or reset == nil or remaining > ahead then return 0 end
  return reset - t
end

local function level_at(bkey, rate, t)
  local b = redis.call('HMGET', bkey, 'level', 'checked')
  local level = number(b[1]) or 0
  local checked = number(b[2]) or t
  return math.max(0, level - math.max(0, t - checked) * rate)
end
"""

ACQUIRE: Final = """
-- KEYS: window, in flight, buckets...
-- ARGV: ahead, take (1/0), call id, stale seconds, keep seconds, then limit and window by bucket
local t = now()
local ahead = tonumber(ARGV[1])
local stale = tonumber(ARGV[4])
local flying = in_flight(KEYS[2], t, stale)
local wait = closed_for(KEYS[1], flying, ahead, t)
local levels = {}
for i = 3, #KEYS do
  local limit = tonumber(ARGV[2 * i])
  local rate = limit / tonumber(ARGV[2 * i + 1])
  local level = level_at(KEYS[i], rate, t)
  levels[i] = level
  local excess = level + ahead + 1 - limit
  if excess > EPSILON then wait = math.max(wait, excess / rate) end
end
if wait > 0 or ARGV[2] ~= '1' then return fmt(wait) end
for i = 3, #KEYS do
  redis.call('HSET', KEYS[i], 'level', fmt(levels[i] + 1), 'checked', fmt(t))
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 * i + 1]) * 1000) + 1000)
end
redis.call('ZADD', KEYS[2], fmt(t), ARGV[3])
redis.call('PEXPIRE', KEYS[2], math.ceil(stale * 1000))
local remaining = number(redis.call('HGET', KEYS[1], 'remaining'))
if remaining then
  redis.call('HSET', KEYS[1], 'remaining', remaining - 1)
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[5]) * 1000))
end
return '0'
"""

OBSERVE: Final = """
-- KEYS: window, in flight. ARGV: limit, remaining, reset (seconds; '' when unknown), stale, keep
local t = now()
local w = KEYS[1]
if ARGV[1] ~= '' then redis.call('HSET', w, 'limit', ARGV[1]) end
local fields = redis.call('HMGET', w, 'reset', 'remaining')
local reset = number(fields[1])
local remaining = number(fields[2])
if ARGV[3] ~= '' then
  local ends = t + tonumber(ARGV[3])
  if reset == nil or ends > reset + SAME_WINDOW then
    reset, remaining = ends, nil  -- a later window than known
    redis.call('HSET', w, 'reset', fmt(ends))
    redis.call('HDEL', w, 'remaining')
  elseif ends < reset - SAME_WINDOW then
    return 0  -- an answer from an earlier window, overtaken by later ones
  elseif ends > reset then
    redis.call('HSET', w, 'reset', fmt(ends))
  end
end
if ARGV[2] ~= '' then
  -- Calls still unanswered may have been counted after this one: assume they were not.
  local flying = in_flight(KEYS[2], t, tonumber(ARGV[4]))
  local left = math.max(0, tonumber(ARGV[2]) - math.max(0, flying - 1))
  if remaining == nil or left < remaining then redis.call('HSET', w, 'remaining', left) end
end
redis.call('PEXPIRE', w, math.ceil(tonumber(ARGV[5]) * 1000))
return 1
"""

HOLD: Final = """
-- KEYS: window. ARGV: seconds, keep
local t = now()
local held = number(redis.call('HGET', KEYS[1], 'held')) or 0
local ends = t + math.max(0, tonumber(ARGV[1]))
if ends > held then redis.call('HSET', KEYS[1], 'held', fmt(ends)) end
local keep = math.max(tonumber(ARGV[2]), ends - t + 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(keep * 1000))
return 1
"""


def script(body: str, clock: str = SERVER_CLOCK) -> str:
    """The whole text of the script ``body`` (:data:`ACQUIRE`, :data:`OBSERVE` or :data:`HOLD`)
    with ``clock`` defining ``now()``: the server's, but for the arithmetic's own tests."""
    return clock + _COMMON + body
