// JSON forms of deskctl's output: one ingest decision, tickets, their messages and events.
//
// This file and docs/DESKCTL.md describe the same public interface: every key written here is
// documented there with its type and meaning, in the same order. Keys are never renamed or removed
// without a note in the docs; new keys may be added at the end of an object.
//
// Strings come from mail and may hold invalid UTF-8: Dump() replaces invalid sequences with U+FFFD
// instead of failing, so one bad subject never aborts a listing.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/engine.h"
#include "core/sla.h"
#include "core/ticket.h"

namespace desk::ctl {

using Json = nlohmann::ordered_json;

// One `ingest` result line. error: set for a file that could not be read (then verdict is null and
// decision is ignored).
Json DecisionJson(const std::string& file, const Decision& decision);
Json UnreadableFileJson(const std::string& file, const std::string& error);

Json MailboxJson(const Mailbox& m);
Json AttachmentJson(const StoredAttachment& a);
Json TicketJson(const Ticket& t);  // the ticket's own fields, without messages and events
Json MessageJson(const TicketMessage& m);
Json EventJson(const TicketEvent& e);
Json SlaJson(const SlaState& s);  // the ticket's "sla" object

// Compact, one line, invalid UTF-8 replaced; never throws.
std::string Dump(const Json& j);

}  // namespace desk::ctl
