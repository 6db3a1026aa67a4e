-- wrk script: POST one new résumé-like text per request to a text-encoder's V1 predict (a
-- counter and the thread's id make every text new, so the encoder's cache never answers);
-- at the end print the same RESULT line as post.lua.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local words = {"managed", "team", "python", "sql", "nurse", "patient", "care", "warehouse",
  "logistics", "sales", "retail", "driving", "licence", "english", "french", "degree",
  "engineering", "maintenance", "welding", "marketing", "accounting", "payroll", "agile"}
local counter = 0
local salt = tostring(math.random(1, 1e9))

request = function()
  counter = counter + 1
  local parts = {"Candidate " .. salt .. "-" .. counter .. ":"}
  for i = 1, 40 do
    parts[#parts + 1] = words[((counter * 7 + i * 13) % #words) + 1]
  end
  local body = '{"instances": [{"text": "' .. table.concat(parts, " ") .. '"}]}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,"bytes":%d,' ..
    '"lat_mean_ms":%.3f,"lat_p50_ms":%.3f,"lat_p90_ms":%.3f,"lat_p99_ms":%.3f,"lat_max_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,"non2xx3xx":%d}\n',
    summary.requests, s, summary.requests / s, summary.bytes,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout, e.status))
end
