-- A failure class mapped to hold: the message is quarantined (Postfix's hold queue) and, because
-- Postfix drops the quarantine reason, the reason is also added as X-Deskmilter-Hold.
-- toml: [limits]
-- toml: max_header_bytes = 1024
-- toml: [actions]
-- toml: on_malformed = "hold"
-- expect-log: 1 verdict=hold
dofile(DESK_LIB .. "/common.lua")

-- n headers of 100 bytes (miltertest crashes on one header value of 2000 bytes).
function filler(n)
  local t = {}
  for i = 1, n do table.insert(t, {"X-Filler-" .. i, string.rep("x", 100)}) end
  return t
end
run(function()
  local conn = connect()
  local r = send_message(conn, support_message("QHOLD1", "hold@customer.test", "Big headers",
                                               filler(12)))
  check(r == SMFIR_CONTINUE, "EOM reply " .. reply_name(r) .. ", want SMFIR_CONTINUE")
  check(mt.eom_check(conn, MT_QUARANTINE), "not quarantined")
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Hold"), "X-Deskmilter-Hold not added")
  local reason = mt.getheader(conn, "X-Deskmilter-Hold", 0)
  check(reason ~= nil and string.find(reason, "header bytes exceed limit 1024", 1, true) ~= nil,
        "hold reason " .. tostring(reason))
  mt.disconnect(conn)
end)
