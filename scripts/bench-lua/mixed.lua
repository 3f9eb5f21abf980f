-- A mix of reads, writes, debug reads and unknown paths, for the load test.
local counter = 0
local words = {"entropy", "tension", "vault", "scar", "geoid", "pulse", "semantic", "field"}
request = function()
  counter = counter + 1
  local kind = counter % 10
  local word = words[(counter % #words) + 1]
  if kind == 0 then
    return wrk.format("POST", "/kimera/geoids", {["Content-Type"] = "application/json"},
      '{"content": "' .. word .. ' load ' .. counter .. '"}')
  elseif kind == 1 then
    return wrk.format("GET", "/kimera/geoids/search?limit=3&query=" .. word)
  elseif kind == 2 then
    return wrk.format("GET", "/debug/traces?limit=5")
  elseif kind == 3 then
    return wrk.format("GET", "/no/such/path/" .. counter)
  elseif kind == 4 then
    return wrk.format("GET", "/")
  elseif kind == 5 then
    return wrk.format("GET", "/debug/logs?limit=10&level=WARNING")
  elseif kind == 6 then
    return wrk.format("GET", "/metrics")
  else
    return wrk.format("GET", "/health")
  end
end
