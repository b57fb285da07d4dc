-- Mail to a support address becomes ticket 1: the delivered copy gets X-Deskmilter-Ticket and the
-- subject tag, the queue id comes from the DATA-stage macro (Postfix sends i from DATA on), and
-- the decision is logged once with the ticket.
-- expect-log: 1 ticket=
-- expect-log: 1 QSUP1: from=alice@customer.test, to=support@example.com, verdict=accept, kind=new, queue=support, ticket=1, action=created, msgid=m1@customer.test
-- expect-log: 1 elapsed_ms=
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  check(mt.test_option(conn, SMFIP_NOHELO), "HELO was not negotiated away")
  check(not mt.test_option(conn, SMFIP_NR_HDR), "no-reply for headers must not be negotiated")
  for _, a in ipairs({SMFIF_ADDHDRS, SMFIF_CHGHDRS, SMFIF_CHGFROM, SMFIF_QUARANTINE}) do
    check(mt.test_action(conn, a), "action " .. tostring(a) .. " not negotiated")
  end
  local msg = support_message(nil, "m1@customer.test", "Printer broken")
  msg.rcpts = {"<someone@else.test>", "<Support@Example.com>"}
  msg.data_qid = "QSUP1"
  local r = send_message(conn, msg)
  check(r == SMFIR_CONTINUE, "EOM reply " .. reply_name(r) .. ", want SMFIR_CONTINUE")
  check(mt.eom_check(conn, MT_HDRADD, "X-Deskmilter-Ticket", "1"), "X-Deskmilter-Ticket: 1 not added")
  check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[#1] Printer broken"), "subject not tagged")
  check(not mt.eom_check(conn, MT_HDRADD, "Message-ID"), "Message-ID added although present")
  mt.disconnect(conn)
end)
