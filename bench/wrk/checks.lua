-- POST /v1/checks under wrk (Debian's `wrk`, LuaJIT): an independent load tool beside bench/api.py.
--
--   wrk -t2 -c16 -d15s --latency -s bench/wrk/checks.lua http://127.0.0.1:PORT -- TOKEN [COUNTY] [SEED]
--
-- or bench/wrk.sh, which starts the server, creates the user and runs this. TOKEN is a bearer token of a
-- user of COUNTY (default 130434) who may check households (surveyor, village, office, department).
--
-- How the documents vary (the same shape as tests/support.py's random_household, so every one is decided and
-- stored, 201): each wrk thread builds 2,000 documents in init() from its own seeded generator (SEED + the
-- thread's number), and its requests cycle through them, so building a body costs nothing while measuring.
-- A document has
--   * a household_id unique in the run: COUNTY-<seed><thread>-<n> (n up to 2,000, then cycling: a second
--     check of a household is a new decision like the first);
--   * status one of exited, never_registered, registered_poor; 1 to 6 members;
--   * income_per_capita either near the line (4,700.00 to 4,900.00 yuan) or anywhere in 0 to 9,000.00;
--   * labour_capacity true 85 %, housing_secure true 70 %;
--   * 0 to 3 illness events (burden 0 to 90,000.00, a month of 2019), 0 to 2 schooling events (stage 本科,
--     初中 or 高中, full-time 90 %, tuition 0 to 15,000.00), 0 or 1 disaster (fire, loss 0 to 60,000.00);
--   * paid_this_year.illness 0 to 3,000.00.
-- Amounts are strings with two decimals (exact money), text is UTF-8.
-- At the end it prints requests/s, the latency percentiles and how many answers were not 201.

local token, county, seed
local documents = {}
local position = 0
unexpected = 0  -- global: done() reads each thread's count with thread:get
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

local function amount(top)  -- "0.00" to top yuan, two decimals, as text
  local fen = math.random(0, top * 100)
  return string.format("%d.%02d", math.floor(fen / 100), fen % 100)
end

local function pick(list)
  return list[math.random(1, #list)]
end

local function document(n)
  local parts = {}
  local illness = {}
  for i = 1, math.random(0, 3) do
    illness[#illness + 1] = string.format('{"id":"S%d","date":"2019-%02d-01","burden":"%s"}', i,
                                          math.random(1, 12), amount(90000))
  end
  local schooling = {}
  for i = 1, math.random(0, 2) do
    schooling[#schooling + 1] = string.format(
      '{"id":"E%d","date":"2019-09-01","stage":"%s","full_time":%s,"tuition":"%s"}', i,
      pick({"本科", "初中", "高中"}), tostring(math.random() < 0.9), amount(15000))
  end
  local disaster = {}
  if math.random(0, 1) == 1 then
    disaster[1] = string.format('{"id":"D1","date":"2019-07-01","kind":"fire","loss":"%s"}', amount(60000))
  end
  local per_capita
  if math.random() < 0.5 then per_capita = math.random(470000, 490000) else per_capita = math.random(0, 900000) end
  parts[#parts + 1] = string.format('"household_id":"%s-%s%d-%06d"', county, seed, thread_number, n)
  parts[#parts + 1] = string.format('"year":2019,"county":"%s"', county)
  parts[#parts + 1] = string.format('"status":"%s"', pick({"exited", "never_registered", "registered_poor"}))
  parts[#parts + 1] = string.format('"members":%d', math.random(1, 6))
  parts[#parts + 1] = string.format('"income_per_capita":"%d.%02d"', math.floor(per_capita / 100), per_capita % 100)
  parts[#parts + 1] = string.format('"labour_capacity":%s', tostring(math.random() < 0.85))
  parts[#parts + 1] = string.format('"housing_secure":%s', tostring(math.random() < 0.7))
  parts[#parts + 1] = '"illness":[' .. table.concat(illness, ",") .. "]"
  parts[#parts + 1] = '"schooling":[' .. table.concat(schooling, ",") .. "]"
  parts[#parts + 1] = '"disaster":[' .. table.concat(disaster, ",") .. "]"
  parts[#parts + 1] = string.format('"paid_this_year":{"illness":"%s"}', amount(3000))
  return "{" .. table.concat(parts, ",") .. "}"
end

function init(args)
  token = args[1] or error("usage: ... -s bench/wrk/checks.lua URL -- TOKEN [COUNTY] [SEED]")
  county = args[2] or "130434"
  seed = args[3] or tostring(os.time() % 100000)
  math.randomseed(tonumber(seed) * 100 + thread_number)
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  for n = 1, 2000 do
    documents[n] = wrk.format("POST", "/v1/checks", headers, document(n))
  end
end

function request()
  position = position % #documents + 1
  return documents[position]
end

function response(status, headers, body)
  if status ~= 201 then
    unexpected = unexpected + 1
    if unexpected <= 3 then io.stderr:write("answer ", status, ": ", body:sub(1, 300), "\n") end
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + (thread:get("unexpected") or 0) end
  io.write(string.format("checks: %d requests in %.1f s: %.0f requests/s; latency p50 %.1f ms, p90 %.1f ms, " ..
                         "p99 %.1f ms, max %.1f ms; answers other than 201: %d; socket errors: %d\n",
                         summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
                         latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, failed,
                         summary.errors.connect + summary.errors.read + summary.errors.write +
                         summary.errors.timeout + summary.errors.status))
end
