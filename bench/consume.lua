-- Sends one POST /token per line of LIST_FILE, each line used once; the two wrk
-- threads take alternate lines so no token or code is ever sent twice.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  items = {}
  local i = 0
  for line in io.lines(os.getenv("LIST_FILE")) do
    if i % 2 == id then items[#items + 1] = line end
    i = i + 1
  end
  pos = 0
  template = os.getenv("BODY_TEMPLATE")
  headers = {["Content-Type"] = "application/x-www-form-urlencoded",
             ["Authorization"] = os.getenv("AUTH_HEADER")}
end

function request()
  pos = pos + 1
  if pos > #items then pos = 1 end  -- exhausted: replays show up as non-2xx
  local body = string.gsub(template, "ITEM", items[pos])
  return wrk.format("POST", "/token", headers, body)
end
