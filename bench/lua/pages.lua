-- Every request a list page not asked for before in this run (page 1-200 x per_page 10-40 x
-- 6 sorts = 37,200 combinations), so the response cache misses while the total (per filter
-- set) stays cached: the "cache miss" cost of browsing a large list. BENCH_START moves the
-- warm-up to another part of the sequence than the measured passes (the harness empties the
-- cache before each further pass, which asks for the same pages again).
local sorts = {"-created_at", "created_at", "-published_at", "published_at", "title", "-title"}
local i = tonumber(os.getenv("BENCH_START") or "0")
request = function()
  local page = i % 200 + 1
  local per_page = math.floor(i / 200) % 31 + 10
  local sort = sorts[math.floor(i / 6200) % 6 + 1]
  i = i + 1
  return wrk.format("GET", "/api/v1/posts?page=" .. page .. "&per_page=" .. per_page .. "&sort=" .. sort)
end
