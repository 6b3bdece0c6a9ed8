-- Load for wrk from bench/booking.py and bench/read.py: random bookings, or a read mix.
--
--   wrk -t2 -c8 -d10s -s bench/wrk/berth.lua http://127.0.0.1:PORT -- CONFIG
--
-- CONFIG is a file the bench writes, one `key=value` per line:
--   mode     book: POST /api/v1/reservations with a random valid booking;
--            read: one of GET /api/v1/calendar (a week), /pools/{pool}/availability (14
--            days) and /reservations?mine=true, in turn at random
--   tokens   comma-separated bearer tokens (each request picks one: several users)
--   pools    comma-separated `pool:kind:kind...` (a request picks a pool, then a kind)
--   base     epoch seconds of the first grid instant (UTC midnight) of the span
--   slots    15-minute slots in the span a booking may start on (book); days = slots / 96
--   hours    longest booking in hours (each is 1..hours long, on the hour)
--   rate     requests per second over all threads (0: as fast as the connections go)
--   threads  wrk's -t, so each thread takes its share of the rate
--   seed     random seed (each wrk thread adds its own number)
--   gzip     1: send `Accept-Encoding: gzip`, as browsers do (the API then compresses)
-- With a rate, each thread sends on a fixed schedule (clock_gettime through LuaJIT's FFI),
-- whichever of its connections is free; latency is measured from the send.
-- done() prints one line `WRK {json}`: requests, seconds, socket errors, latency percentiles
-- (ms) and the count of each status ("409s": a 409 that suggests a slot).

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } berth_timespec;
  int clock_gettime(int clk_id, berth_timespec *tp);
]])

local config = {}
local tokens, pools = {}, {}
counts = {} -- a global: done() reads each thread's with thread:get
local threads = {}
local thread_number = 0
local interval, next_send = 0, nil

local function now_ms()
  local ts = ffi.new("berth_timespec")
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local function split(text, sep)
  local out = {}
  for piece in string.gmatch(text, "([^" .. sep .. "]+)") do
    out[#out + 1] = piece
  end
  return out
end

local function load(path)
  for line in io.lines(path) do
    local key, value = string.match(line, "^([%w_]+)=(.*)$")
    if key then
      config[key] = value
    end
  end
  tokens = split(config.tokens, ",")
  for _, spec in ipairs(split(config.pools, ",")) do
    local parts = split(spec, ":")
    local name = table.remove(parts, 1)
    pools[#pools + 1] = { name = name, kinds = parts }
  end
end

function setup(thread)
  thread_number = thread_number + 1
  thread:set("number", thread_number)
  threads[#threads + 1] = thread
end

function init(args)
  load(args[1])
  math.randomseed(tonumber(config.seed) + 7919 * (number or 0))
  counts = {}
  local rate = tonumber(config.rate or "0")
  if rate > 0 then
    interval = 1000 * tonumber(config.threads) / rate
  end
end

function delay()
  if interval == 0 then
    return 0
  end
  local t = now_ms()
  next_send = (next_send or t) + interval
  return math.max(0, next_send - t)
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

local function headers()
  local h = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
  }
  if config.gzip == "1" then
    h["Accept-Encoding"] = "gzip"
  end
  return h
end

local function booking()
  local pool = pools[math.random(#pools)]
  local kind = pool.kinds[math.random(#pool.kinds)]
  local start = tonumber(config.base) + 900 * math.random(0, tonumber(config.slots) - 1)
  local stop = start + 3600 * math.random(1, tonumber(config.hours))
  local body = string.format(
    '{"pool":"%s","start":"%s","end":"%s","gpu":{"kind":"%s","count":%d},'
      .. '"cpu":1,"memory":"1Gi","mode":"inference"}',
    pool.name, iso(start), iso(stop), kind, math.random(1, 2))
  return wrk.format("POST", "/api/v1/reservations", headers(), body)
end

local function read()
  local days = math.floor(tonumber(config.slots) / 96)
  local which = math.random(3)
  if which == 1 then -- the calendar of a week: one pool, or all (as the calendar page asks)
    local from = tonumber(config.base) + 86400 * math.random(0, days - 7)
    local path = string.format("/api/v1/calendar?from=%s&to=%s", iso(from), iso(from + 7 * 86400))
    local pick = math.random(#pools + 1)
    if pick <= #pools then
      path = path .. "&pool=" .. pools[pick].name
    end
    return wrk.format("GET", path, headers())
  elseif which == 2 then -- a pool's free capacity over 14 days
    local from = tonumber(config.base) + 86400 * math.random(0, days - 14)
    local path = string.format("/api/v1/pools/%s/availability?start=%s&end=%s",
      pools[math.random(#pools)].name, iso(from), iso(from + 14 * 86400))
    return wrk.format("GET", path, headers())
  end
  return wrk.format("GET", "/api/v1/reservations?mine=true", headers())
end

function request()
  if config.mode == "read" then
    return read()
  end
  return booking()
end

function response(status, headers, body)
  local key = tostring(status)
  if status == 409 and string.find(body, '"suggestion":{', 1, true) then
    key = "409s"
  end
  counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts")) do
      total[key] = (total[key] or 0) + n
    end
  end
  local parts = {}
  for key, n in pairs(total) do
    parts[#parts + 1] = string.format('"%s":%d', key, n)
  end
  io.write(string.format(
    'WRK {"requests":%d,"seconds":%.3f,"errors":%d,"p50_ms":%.2f,"p90_ms":%.2f,'
      .. '"p99_ms":%.2f,"max_ms":%.2f,"status":{%s}}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, table.concat(parts, ",")))
end
