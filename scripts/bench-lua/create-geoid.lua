-- POST /kimera/geoids with varied text.
local counter = 0
local words = {"entropy", "tension", "vault", "scar", "geoid", "pulse", "semantic", "symbolic", "field", "echo"}
request = function()
  counter = counter + 1
  local text = words[(counter % #words) + 1] .. " " .. words[((counter * 7) % #words) + 1] .. " bench " .. counter
  return wrk.format("POST", "/kimera/geoids", {["Content-Type"] = "application/json"}, '{"content": "' .. text .. '"}')
end
