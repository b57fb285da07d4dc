-- Mail with no support recipient is accepted at DATA (SMFIS_ACCEPT: the MTA sends nothing more, so
-- the filter cannot edit it), is not spooled and not logged; the null sender is handled too.
-- expect-log: 0 ticket=
-- expect-log: 0 error
dofile(DESK_LIB .. "/common.lua")
run(function()
  local conn = connect()
  local r = send_message(conn, {
    from = "<bob@else.test>",
    rcpts = {"<sales@example.com>", "<carol@other.test>", "<support@example.com.evil.test>"},
    qid = "QPASS1",
    headers = {{"Subject", "not for the help desk"}},
    body = "hi\r\n",
  })
  check(r == SMFIR_ACCEPT, "first message: DATA reply " .. reply_name(r) .. ", want SMFIR_ACCEPT")
  -- The MTA aborts the finished transaction before the next MAIL.
  check(mt.abort(conn) == nil, "mt.abort failed")
  r = send_message(conn, {from = "<>", rcpts = {"<postmaster@example.org>"}, qid = "QPASS2"})
  check(r == SMFIR_ACCEPT, "bounce: DATA reply " .. reply_name(r) .. ", want SMFIR_ACCEPT")
  mt.disconnect(conn)
end)
