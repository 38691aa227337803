-- wrk_invite.lua: replays SigV4-signed InviteUsers requests (50 addresses each) over keep-alive.
-- The requests come from the file named by $WRK_REQUEST_FILE, written by bench/emulator_wrk.sh:
-- one request, or with $WRK_DISTINCT > 0 several separated by lines holding only "%%". A request
-- is: line 1 METHOD PATH; then "Name: value" header lines; an empty line; the body.
-- One request is replayed as wrk's static request. Several are sent in turn, each wrk thread
-- taking every $WRK_THREADS-th from its own start, so no two requests carry the same addresses
-- until the list runs out (then it starts again and the emulator sees re-invites).
-- Signatures are valid for the emulator's 5-minute clock-skew window from signing.

local function parse_request(text)
  local head, body = text:match("^(.-)\r?\n\r?\n(.*)$")
  assert(head, "request has no blank line between headers and body")
  local lines = {}
  for line in head:gmatch("[^\r\n]+") do lines[#lines + 1] = line end
  local method, target = lines[1]:match("^(%S+)%s+(%S+)$")
  local headers = {}
  for i = 2, #lines do
    local name, value = lines[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  return method, target, headers, body
end

local function read_file(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local text = f:read("*a")
  f:close()
  return text
end

local distinct = tonumber(os.getenv("WRK_DISTINCT") or "0") or 0

if distinct == 0 then
  local method, target, headers, body = parse_request(read_file(os.getenv("WRK_REQUEST_FILE")))
  wrk.method = method
  wrk.path = target
  wrk.headers = headers
  wrk.body = body
else
  -- Loaded in init(), which runs only in the worker threads' Lua states: the main state merely
  -- needs to see that request() exists.
  local requests, next_index, stride = {}, 1, 1

  local started = 0
  function setup(thread)
    thread:set("thread_index", started)
    started = started + 1
  end

  function init(_)
    local text = read_file(os.getenv("WRK_REQUEST_FILE")) .. "\n%%\n"
    for record in text:gmatch("(.-)\n%%%%\n") do
      requests[#requests + 1] = wrk.format(parse_request(record))
    end
    assert(#requests > 0, "no requests in " .. os.getenv("WRK_REQUEST_FILE"))
    stride = tonumber(os.getenv("WRK_THREADS") or "1") or 1
    next_index = (thread_index or 0) % #requests + 1
  end

  function request()
    local r = requests[next_index]
    next_index = (next_index - 1 + stride) % #requests + 1
    return r
  end
end

local bad = 0
function response(status, _, _)
  if status ~= 201 then bad = bad + 1 end
end

function done(summary, _, _)
  io.write(string.format("requests: %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
