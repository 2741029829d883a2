-- wrk script: SMS and chat contacts, each with its own Idempotency-Key (so none is doubled); 202 counted.
local texts = {
  "my card has not arrived yet", "I was charged twice for the same coffee", "how do I change my PIN",
  "I lost my card on the train", "my transfer to my landlord has not arrived", "why was my card declined",
}
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  other = 0
  math.randomseed(id * 7919 + os.time())
end

function request()
  counter = counter + 1
  local text = texts[math.random(#texts)]
  local body
  if math.random() < 0.5 then
    body = '{"channel": "sms", "direction": "inbound", "text": "' .. text .. '"}'
  else
    body = '{"channel": "chat", "messages": [{"role": "customer", "text": "' .. text .. '"}]}'
  end
  local headers = {
    ["Authorization"] = "Bearer " .. os.getenv("CALLSCOPE_LOAD_KEY"),
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%d-%d-%d", id, counter, math.random(1, 1000000000)),
  }
  return wrk.format("POST", "/v1/interactions", headers, body)
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    o = o + thread:get("other")
  end
  io.write(string.format('WRK_JSON {"accepted": %d, "other": %d, "p50_ms": %.1f, "p99_ms": %.1f, "requests": %d}\n',
    a, o, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests))
end
