-- Every request a distinct unknown path: the path-cardinality attack.
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/attack/" .. tostring(math.random(1, 1e9)) .. "/" .. counter)
end
