-- A failure class mapped to reject: a header section over limits.max_header_bytes is malformed,
-- answered 550 5.6.0 with the reason, and logged once with verdict=reject and error=.
-- toml: [limits]
-- toml: max_header_bytes = 1024
-- toml: [actions]
-- toml: on_malformed = "reject"
-- expect-log: 1 verdict=reject
-- expect-log: 1 error="malformed: header bytes exceed limit 1024"
dofile(DESK_LIB .. "/common.lua")

-- n headers of 100 bytes (miltertest crashes on one header value of 2000 bytes).
function filler(n)
  local t = {}
  for i = 1, n do table.insert(t, {"X-Filler-" .. i, string.rep("x", 100)}) end
  return t
end
run(function()
  local conn = connect()
  local r = send_message(conn, support_message("QBIG1", "big@customer.test", "Big headers",
                                               filler(12)))
  check(r == SMFIR_REPLYCODE, "EOM reply " .. reply_name(r) .. ", want SMFIR_REPLYCODE")
  -- miltertest matches MT_SMTPREPLY only with all three of code, enhanced code and text.
  check(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.6.0",
                     "deskmilter: malformed message: header bytes exceed limit 1024"),
        "no 550 5.6.0 reply with the reason")
  check(not mt.eom_check(conn, MT_HDRADD), "a rejected message must not be edited")
  mt.disconnect(conn)
end)
