-- Support mail without a Message-ID gets a generated one added (the ticket is threaded by it), and
-- the log names the generated id.
-- expect-log: 1 ticket=
-- expect-log: 1 .deskmilter@desk.test
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  local r = send_message(conn, support_message("QMID1", nil, "No id here"))
  check(r == SMFIR_CONTINUE, "EOM reply " .. reply_name(r))
  check(mt.eom_check(conn, MT_HDRADD, "Message-ID"), "no Message-ID added")
  local id = mt.getheader(conn, "Message-ID", 0)
  check(id ~= nil and string.match(id, "^<[^<>@]+@desk%.test>$") ~= nil,
        "generated Message-ID " .. tostring(id) .. " is not <...@desk.test>")
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "ticket header")
  mt.disconnect(conn)
end)
