-- bench.lua: what Lua programs spend time on, in five parts, each printing
-- a checksum: table-heavy object code with metatables and closures,
-- string building and pattern matching, sorting with a Lua comparator,
-- floating-point loops, and garbage (many short-lived tables).
-- Rule: deterministic (no os, no io, no random seeds from time).

local function objects(n)
  local Point = {}
  Point.__index = Point
  function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
  function Point:add(o) return Point.new(self.x + o.x, self.y + o.y) end
  function Point:len2() return self.x * self.x + self.y * self.y end
  local acc, sum = Point.new(0, 0), 0
  for i = 1, n do
    acc = acc:add(Point.new(i % 7 - 3, i % 5 - 2))
    sum = (sum + acc:len2()) % 1000000007
  end
  local counters = {}
  for i = 1, 64 do
    local c = 0
    counters[i] = function(k) c = c + k; return c end
  end
  for i = 1, n do sum = (sum + counters[i % 64 + 1](i)) % 1000000007 end
  return sum
end

local function strings(n)
  local parts = {}
  for i = 1, n do
    parts[#parts + 1] = string.format("%d:%s;", i * 7919 % 10007, string.rep("ab", i % 5))
  end
  local s = table.concat(parts)
  local count, total = 0, 0
  for num, letters in s:gmatch("(%d+):(%a*);") do
    count = count + 1
    total = total + tonumber(num) + #letters
  end
  local replaced = s:gsub("ab", "x"):gsub("%d%d%d", function(d) return d:reverse() end)
  return count, total, #replaced, replaced:find("7x", 1, true) or 0
end

local function sorting(n)
  local t, seed = {}, 42
  for i = 1, n do
    seed = (seed * 1103515245 + 12345) % 2147483648
    t[i] = {key = seed % 1000, id = i}
  end
  table.sort(t, function(a, b)
    if a.key ~= b.key then return a.key < b.key end
    return a.id > b.id
  end)
  local h = 0
  for i = 1, n, 37 do h = (h * 31 + t[i].id) % 1000000007 end
  return h
end

local function floats(n)
  local x, s = 0.5, 0.0
  for i = 1, n do
    x = 3.7 * x * (1.0 - x)
    s = s + math.sqrt(x) * (i % 100 - 50) * 0.01
  end
  return string.format("%.6f", s)
end

local function garbage(depth)
  local function make(d)
    if d == 0 then return {} end
    return {make(d - 1), make(d - 1)}
  end
  local function check(t)
    if not t[1] then return 1 end
    return 1 + check(t[1]) + check(t[2])
  end
  local total = 0
  for i = 1, 40 do total = total + check(make(depth)) end
  return total
end

print("objects", objects(800000))
print("strings", strings(100000))
print("sorting", sorting(100000))
print("floats", floats(1500000))
print("garbage", garbage(13))
