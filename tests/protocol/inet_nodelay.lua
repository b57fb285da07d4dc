-- On TCP, deskmilter sets TCP_NODELAY on libmilter's listening socket (accepted sockets inherit it),
-- so the several small writes of an end-of-message reply (header edits, then the verdict) are not
-- held back by Nagle's algorithm until the MTA's delayed ACK (~40 ms, notes/milter.md). The test
-- times end of message for messages on fresh connections; with the stall every one of them takes
-- 40 ms or more on the wire. The milter's own time (elapsed_ms in its log: parse, thread, commit
-- with fsync; counted from end of headers, so the difference may even be negative) is subtracted,
-- and the smallest remainder of 12 messages must stay under 25 ms, which
-- keeps the test meaningful on a slow disk or a busy machine.
-- socket: inet
-- expect-log: 12 ticket=
dofile(DESK_LIB .. "/common.lua")

local function now_ms()
  local p = io.popen("date +%s%N")
  local ns = p:read("*l")
  p:close()
  return tonumber(ns) / 1e6
end

-- elapsed_ms of the decision logged for queue id qid.
local function logged_elapsed(qid)
  local f = io.open(DESK_TMP .. "/milter.log", "r")
  check(f ~= nil, "cannot read the milter log")
  local found = nil
  for line in f:lines() do
    if string.find(line, qid .. ": ", 1, true) then
      found = tonumber(string.match(line, "elapsed_ms=([%d%.]+)"))
    end
  end
  f:close()
  check(found ~= nil, "no elapsed_ms logged for " .. qid)
  return found
end

run(function()
  check(string.sub(DESK_SOCKET, 1, 5) == "inet:", "this test needs an inet socket")
  local best, total, best_wire = nil, 0, nil
  for i = 1, 12 do
    local conn = connect()
    local msg = support_message("QTCP" .. i, "tcp" .. i .. "@customer.test", "Ticket " .. i)
    -- Everything up to the body, untimed.
    check(mt.macro(conn, SMFIC_MAIL, "i", msg.qid) == nil, "macro")
    check(mt.mailfrom(conn, msg.from) == nil, "mailfrom")
    expect_reply(conn, SMFIR_CONTINUE, "MAIL")
    check(mt.rcptto(conn, msg.rcpts[1]) == nil, "rcptto")
    expect_reply(conn, SMFIR_CONTINUE, "RCPT")
    for _, h in ipairs(msg.headers) do
      check(mt.header(conn, h[1], h[2]) == nil, "header")
      expect_reply(conn, SMFIR_CONTINUE, "header")
    end
    check(mt.eoh(conn) == nil, "eoh")
    expect_reply(conn, SMFIR_CONTINUE, "EOH")
    check(mt.bodystring(conn, msg.body) == nil, "body")
    expect_reply(conn, SMFIR_CONTINUE, "body")
    local t0 = now_ms()
    check(mt.eom(conn) == nil, "eom")
    expect_reply(conn, SMFIR_CONTINUE, "EOM")
    local dt = now_ms() - t0
    check(mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "subject tag")
    total = total + dt
    if best == nil or dt < best then best = dt end
    local wire = dt - logged_elapsed("QTCP" .. i)
    if best_wire == nil or wire < best_wire then best_wire = wire end
    mt.disconnect(conn)
  end
  print(string.format("end of message over TCP: fastest %.1f ms, mean %.1f ms, " ..
                      "least time outside the milter's decision %.1f ms", best, total / 12, best_wire))
  check(best_wire < 25, string.format("end of message spent at least %.1f ms on the wire: " ..
                                      "Nagle stall (TCP_NODELAY missing?)", best_wire))
end)
