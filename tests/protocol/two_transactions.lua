-- Two messages on one connection, the second after the first one's end of message (no abort in
-- between): both are decided and logged. The second replies to the first and joins its ticket.
-- expect-log: 2 ticket=
-- expect-log: 1 QTWO1: from=alice@customer.test, to=support@example.com, verdict=accept, kind=new, queue=support, ticket=1, action=created
-- expect-log: 1 QTWO2: from=alice@customer.test, to=support@example.com, verdict=accept, kind=reply, queue=support, ticket=1, action=appended
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  local r = send_message(conn, support_message("QTWO1", "first@customer.test", "VPN down"))
  check(r == SMFIR_CONTINUE, "first EOM reply " .. reply_name(r))
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "first: ticket header")

  r = send_message(conn, support_message("QTWO2", "second@customer.test", "Re: VPN down",
                                         {{"In-Reply-To", "<first@customer.test>"}}))
  check(r == SMFIR_CONTINUE, "second EOM reply " .. reply_name(r))
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "second: ticket header")
  check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[#1] Re: VPN down"), "second: subject tag")
  mt.disconnect(conn)
end)
