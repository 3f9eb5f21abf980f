-- GET /kimera/geoids/search with varied queries (bypassing the cache, so the ranking is measured).
local counter = 0
local words = {"entropy", "tension", "vault", "scar", "geoid", "pulse", "semantic", "symbolic", "field", "echo"}
request = function()
  counter = counter + 1
  local query = words[(counter % #words) + 1] .. "%20" .. words[((counter * 3) % #words) + 1]
  return wrk.format("GET", "/kimera/geoids/search?limit=5&bypass_cache=true&query=" .. query)
end
