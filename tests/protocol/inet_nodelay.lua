-- On TCP, deskmilter sets TCP_NODELAY on libmilter's listening socket (accepted sockets inherit it),
-- so the several small writes of an end-of-message reply (header edits, then the verdict) are not
-- held back by Nagle's algorithm until the MTA's delayed ACK (~40 ms, notes/milter.md). The test
-- times end of message for messages on fresh connections; with the stall every one of them takes
-- 40 ms or more, so the fastest one is compared against 30 ms (robust to a busy machine).
-- socket: inet
-- expect-log: 12 ticket=
dofile(DESK_LIB .. "/common.lua")

local function now_ms()
  local p = io.popen("date +%s%N")
  local ns = p:read("*l")
  p:close()
  return tonumber(ns) / 1e6
end

run(function()
  check(string.sub(DESK_SOCKET, 1, 5) == "inet:", "this test needs an inet socket")
  local best, total = nil, 0
  for i = 1, 12 do
    local conn = connect()
    local msg = support_message("QTCP" .. i, "tcp" .. i .. "@customer.test", "Ticket " .. i)
    -- Everything up to the body, untimed.
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
    mt.disconnect(conn)
  end
  print(string.format("end of message over TCP: fastest %.1f ms, mean %.1f ms", best, total / 12))
  check(best < 30, string.format("fastest end of message took %.1f ms: Nagle stall (TCP_NODELAY missing?)", best))
end)
