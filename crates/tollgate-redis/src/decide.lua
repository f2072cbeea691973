-- Tollgate: all the limits of one request, decided at once (see src/script.rs for the layout).
--
-- Time is in microseconds, the resolution of TIME: every value stays below 2^53, so Lua's
-- doubles hold it exactly. Numbers are written back with string.format('%d'), never tostring.
--
-- Redis runs this chunk as one function per call, so every function defined in it would be a
-- new closure on every call: the decisions are written out inline instead, with one helper.
--
-- KEYS[i]  the partition of limit i (every key of one call shares a hash tag)
-- ARGV[1]  'acquire', 'refund', 'withdraw' or 'release'
-- ARGV[2]  the instant to decide at, or '' for the server's TIME (tests pin it)
-- ARGV[3]  refund, withdraw: the instant the charge was decided at
-- ARGV[4 + 5(i-1) ..]  per limit: kind, cost, a, b, c
--   't' token bucket   a = interval, b = burst, c = how far ahead a turn may lie and the
--                      request wait for it (0: no delay); withdraw: c = the state it stored
--   'w' window         a = start, b = end, c = max (bounds of the window the caller expects)
--   's' sliding        a = period, b = max
--   'c' concurrency    a = max, b = lease time            release: a = lease expiry
--   'd' or 'd:VALUE'   distinct values: a = start, b = end (FOREVER: kept for good), c = max;
--                      VALUE the hash of the request's value in hex (none: counts nothing)
--
-- State: a bucket is its theoretical arrival time 'tat'; a window 'end:used'; a sliding
-- window 'end:previous:current'; concurrency a hash of 'expiry:cost' -> leases; distinct
-- values a hash: field 'e' the end of the period counted, one field per value seen in it.
--
-- acquire replies {1 | 0, now, then per limit: allowed, limit, remaining, reset, retry (-1:
-- never)}: 1 when every limit admitted and was charged, 0 when one refused and none was (the
-- limits that would have admitted then report what they hold, uncharged). An admitted limit's
-- retry is the request's turn: now, or later for a bucket's request waiting for it, and then
-- every bucket of the request counts it at the latest turn (see MemoryStore).
--
-- withdraw gives back what a request that left before its turn took: a bucket's turn if its
-- state is still the one the request stored, a window's units as refund does.
-- It replies {-1, now} when a window's bounds do not hold now: the caller asks again.

local op, now = ARGV[1], nil
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local fmt, floor, max, min, ceil = string.format, math.floor, math.max, math.min, math.ceil
-- The end of a distinct-value limit kept for good, in µs (the core's, 2^53 - 2^20).
local FOREVER = 9007199253692416

-- floor(a / b) for 0 <= a < 2^53 and 0 < b: the double quotient, corrected by one either way.
local function div(a, b)
  local q = floor(a / b)
  if q * b > a then
    return q - 1
  elseif (q + 1) * b <= a then
    return q + 1
  end
  return q
end

if op == 'release' then
  for i = 1, #KEYS do
    local at = 4 + 5 * (i - 1)
    local field = fmt('%d:%d', tonumber(ARGV[at + 2]), tonumber(ARGV[at + 1]))
    if redis.call('HINCRBY', KEYS[i], field, -1) <= 0 then
      redis.call('HDEL', KEYS[i], field)
    end
  end
  return 1
end

if op == 'refund' or op == 'withdraw' then
  local charged_at = tonumber(ARGV[3])
  for i = 1, #KEYS do
    local at, key = 4 + 5 * (i - 1), KEYS[i]
    local kind, cost, a, b = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
    local value = redis.call('GET', key)
    if value and kind == 't' and op == 'withdraw' then
      -- Only the last turn given out comes back: a later one was counted from it.
      local reserved = tonumber(ARGV[at + 4])
      if tonumber(value) == reserved and cost > 0 then
        redis.call('SET', key, fmt('%d', max(reserved - cost * a, 0)), 'KEEPTTL')
      end
    elseif value and kind == 't' then
      local tat = tonumber(value)
      if tat > charged_at then
        redis.call('SET', key, fmt('%d', max(tat - cost * a, charged_at)), 'KEEPTTL')
      end
    elseif value and kind == 'w' then
      local stop, used = string.match(value, '(%d+):(%d+)')
      if tonumber(stop) == b then
        redis.call('SET', key, fmt('%d:%d', b, max(tonumber(used) - cost, 0)), 'KEEPTTL')
      end
    elseif value and kind == 's' then
      local stop = charged_at - (charged_at - div(charged_at, a) * a) + a
      local written, previous, current = string.match(value, '(%d+):(%d+):(%d+)')
      written = tonumber(written)
      if written == stop or written == stop - a then
        local counts = fmt('%d:%d:%d', written, tonumber(previous), max(tonumber(current) - cost, 0))
        redis.call('SET', key, counts, 'KEEPTTL')
      end
    end
  end
  return 1
end

-- acquire: decide every limit against its state; write only if all admit.
local reply, admitted = {1, now}, true
local writes = {} -- per limit: the value to SET (or hash field to add), '' for none
local expiries = {} -- per limit: until when to keep the key, 0 to keep its TTL
local held = {} -- per limit: remaining and reset if nothing is charged
local tats = {} -- per bucket: its state as read, at least now; for counting it at a later turn
local turn = now -- the latest turn of the limits that admit
for i = 1, #KEYS do
  local at, key = 4 + 5 * (i - 1), KEYS[i]
  local kind, cost = ARGV[at], tonumber(ARGV[at + 1])
  local a, b, c = tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
  local wanted = max(cost, 1)
  local seen_value = nil -- distinct values: the request's value, if any
  if string.sub(kind, 1, 1) == 'd' then
    seen_value, kind = string.sub(kind, 3), 'd'
    if seen_value == '' then
      seen_value = nil
    end
  end
  local allowed, limit, remaining, reset, retry
  local write, expiry, held_remaining, held_reset = '', 0, 0, 0
  if kind == 't' then
    -- GCRA: a = interval, b = burst.
    local tolerance = a * b
    local tat = max(tonumber(redis.call('GET', key) or '0') or 0, now)
    local available = div(max(now + tolerance - tat, 0), a)
    limit, held_remaining, held_reset = b, available, tat
    tats[i] = tat
    local charged = (cost == 0) and 0 or wanted
    if wanted <= available then
      allowed, remaining, reset, retry = 1, available - charged, tat + charged * a, now
    else
      allowed, remaining, reset = 0, available, tat
      retry = (wanted <= b) and max(tat + wanted * a - tolerance, 0) or -1
      if retry >= 0 and retry <= now + c then
        -- Its turn is near enough to wait for (c: the delay): admitted now, to start then.
        allowed, remaining, reset = 1, 0, tat + charged * a
      end
    end
    if allowed == 1 and charged > 0 then
      write, expiry = fmt('%d', reset), reset
    end
  elseif kind == 'w' then
    -- A window: a = start, b = end, c = max.
    if now < a or now >= b then
      return {-1, now}
    end
    local used, same = 0, false
    local value = redis.call('GET', key)
    if value then
      local stop, count = string.match(value, '(%d+):(%d+)')
      stop = tonumber(stop)
      if stop == b then
        used, same = min(tonumber(count), c), true
      elseif stop and stop > b then
        used = c -- written in a later window (the clock went back): read as full
      end
    end
    limit, reset, held_remaining, held_reset = c, b, c - used, b
    if used + wanted <= c then
      allowed, remaining, retry = 1, c - used - cost, now
      if cost > 0 then
        -- The key already expires at the end of this window: its TTL stays.
        write, expiry = fmt('%d:%d', b, used + cost), same and 0 or b
      end
    else
      allowed, remaining, retry = 0, c - used, (wanted <= c) and b or -1
    end
  elseif kind == 's' then
    -- Sliding window (see SlidingWindow in the core): a = period, b = max.
    local start = div(now, a) * a
    local stop = start + a
    local previous, current, same = 0, 0, false
    local value = redis.call('GET', key)
    if value then
      local written, p, q = string.match(value, '(%d+):(%d+):(%d+)')
      written = tonumber(written)
      if written == stop then
        previous, current, same = tonumber(p), tonumber(q), true
      elseif written == stop - a then
        previous = tonumber(q)
      elseif written and written > stop then
        current = b
      end
    end
    local weight, scaled_max = previous * (a - (now - start)), b * a
    allowed = (current + wanted <= b and weight + (current + wanted) * a <= scaled_max) and 1 or 0
    local charged = (allowed == 1) and cost or 0
    limit, reset, held_reset = b, stop, stop
    remaining = div(max(scaled_max - weight - (current + charged) * a, 0), a)
    held_remaining = div(max(scaled_max - weight - current * a, 0), a)
    if allowed == 1 then
      retry = now
      if charged > 0 then
        write, expiry = fmt('%d:%d:%d', stop, previous, current + charged), same and 0 or stop + a
      end
    elseif wanted > b then
      retry = -1
    else
      -- The earliest instant the weighted count leaves room: previous × (a − e) ≤ room × a.
      local weigh, room, from = previous, b - current - wanted, start
      if current + wanted > b then
        weigh, room, from = current, b - wanted, stop
      end
      retry = from
      if weigh > 0 then
        retry = from + max(a - div(room * a, weigh), 0)
      end
    end
  elseif kind == 'd' then
    -- Distinct values: a = start, b = end, c = max.
    if now < a or now >= b then
      return {-1, now}
    end
    local used, same = 0, false
    local stop = tonumber(redis.call('HGET', key, 'e') or '')
    if stop == b then
      used, same = min(redis.call('HLEN', key) - 1, c), true
    elseif stop and stop > b then
      used = c -- written in a later period (the clock went back): read as full
    end
    local seen = seen_value == nil or (same and redis.call('HEXISTS', key, seen_value) == 1)
    limit, reset, held_remaining, held_reset = c, b, c - used, b
    if seen or (cost == 0 and used < c) then
      allowed, remaining, retry = 1, c - used, now
    elseif used < c then
      allowed, remaining, retry = 1, c - used - 1, now
      -- A new period (or none yet) starts the hash afresh, expiring at its end.
      write, expiry = seen_value, same and 0 or b
    else
      allowed, remaining, retry = 0, 0, (b == FOREVER) and -1 or b
    end
  else
    -- Concurrency: a = max, b = lease time.
    local leases = redis.call('HGETALL', key)
    local expiring, in_flight, last = {}, 0, now
    for j = 1, #leases, 2 do
      local expires, units = string.match(leases[j], '(%d+):(%d+)')
      expires = tonumber(expires)
      if expires <= now then
        redis.call('HDEL', key, leases[j])
      else
        units = tonumber(units) * tonumber(leases[j + 1])
        expiring[#expiring + 1] = {expires, units}
        in_flight, last = in_flight + units, max(last, expires)
      end
    end
    limit, held_remaining, held_reset = a, max(a - in_flight, 0), last
    if in_flight + wanted <= a then
      allowed, retry = 1, now
      remaining, reset = max(a - in_flight - cost, 0), last
      if cost > 0 then
        reset = now + b
        -- The hash lives as long as its longest lease (a clock stepping back keeps them all).
        write, expiry = fmt('%d:%d', reset, cost), max(reset, last)
      end
    else
      allowed, remaining, reset, retry = 0, max(a - in_flight, 0), last, -1
      if wanted <= a then
        -- The expiry by which enough units are free, earliest first.
        table.sort(expiring, function(x, y) return x[1] < y[1] end)
        local freed, needed = 0, in_flight + wanted - a
        for _, lease in ipairs(expiring) do
          freed = freed + lease[2]
          if freed >= needed then
            retry = lease[1]
            break
          end
        end
      end
    end
  end
  admitted = admitted and allowed == 1
  if allowed == 1 then
    turn = max(turn, retry)
  end
  writes[i], expiries[i], held[2 * i - 1], held[2 * i] = write, expiry, held_remaining, held_reset
  local n = #reply
  reply[n + 1], reply[n + 2], reply[n + 3], reply[n + 4], reply[n + 5] =
    allowed, limit, remaining, reset, retry
end

if admitted and turn > now then
  -- A request waiting for its turn starts then: every bucket counts it at that instant.
  for i = 1, #KEYS do
    local at = 4 + 5 * (i - 1)
    local slot = 2 + 5 * (i - 1)
    if ARGV[at] == 't' and reply[slot + 5] < turn then
      local cost, a, b = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
      local tat = max(tats[i], turn)
      local charged = (cost == 0) and 0 or max(cost, 1)
      local reset = tat + charged * a
      reply[slot + 3] = div(max(turn + a * b - tat, 0), a) - charged
      reply[slot + 4], reply[slot + 5] = reset, turn
      if charged > 0 then
        writes[i], expiries[i] = fmt('%d', reset), reset
      end
    end
  end
end

if admitted then
  for i = 1, #KEYS do
    local write, expiry = writes[i], expiries[i]
    if write ~= '' then
      local keep = max(ceil((expiry - now) / 1000), 1)
      local kind = string.sub(ARGV[4 + 5 * (i - 1)], 1, 1)
      if kind == 'c' then
        redis.call('HINCRBY', KEYS[i], write, 1)
        redis.call('PEXPIRE', KEYS[i], keep + 1)
      elseif kind == 'd' then
        if expiry ~= 0 then
          redis.call('DEL', KEYS[i])
          redis.call('HSET', KEYS[i], 'e', fmt('%d', expiry))
          if expiry ~= FOREVER then
            redis.call('PEXPIRE', KEYS[i], keep)
          end
        end
        redis.call('HSET', KEYS[i], write, '1')
      elseif expiry == 0 then
        redis.call('SET', KEYS[i], write, 'KEEPTTL')
      else
        redis.call('SET', KEYS[i], write, 'PX', keep)
      end
    end
  end
  return reply
end
reply[1] = 0
for i = 1, #KEYS do
  local at = 2 + 5 * (i - 1)
  if reply[at + 1] == 1 then
    reply[at + 3], reply[at + 4] = held[2 * i - 1], held[2 * i]
  end
end
return reply
