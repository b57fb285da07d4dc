// Agents' mail: who is an agent, which of their mails belong to the help desk, how a mail
// to a customer is rewritten, and the reply tokens. docs/AGENTS.md is the administrator's view.
//
// Who is an agent (IdentifyAgent): the SMTP AUTH user ({auth_authen}) is a configured agent's
// login, or the client is in agents.trusted_networks and the envelope sender is an agent's
// address. A From header alone never makes anyone an agent.
//
// Which agent mail is ours (ClassifyAgentMail), with "outside" = an envelope recipient that is
// neither a support address nor an agent:
//   threads to a ticket, outside recipient       -> agent_reply    (appended, rewritten)
//   threads to a ticket, no outside recipient    -> internal_note  (appended, not rewritten)
//   no ticket, outside recipient, and a support  -> agent_new      (creation rules 2 and 4: a new
//     address is the From or is copied              ticket whose requester is the recipient)
//   no ticket, no outside, to a support address  -> the ordinary support pipeline (rule 1)
//   anything else                                -> personal mail, passed untouched
// "Threads" is ResolveThread (Message-IDs, References, reply token), plus the subject tag of an
// existing ticket, which an identified agent may use without being a participant.
//
// Rewriting (PlanAgentRewrite, for agent_reply and agent_new, in the pipeline's delivery edits): From becomes the queue's reply-via
// identity (the support address the ticket was received at; the queue's default_address for a
// wildcard one), Reply-To the reply address (support+TOKEN@domain with reply_token), the envelope
// sender the reply-via address (rewrite_envelope), the subject gets the tag; Sender, Return-Path
// and every other header that names the agent's personal address (the agent's address, the
// envelope sender, the original From) are deleted. To and Cc lose the agent's mailboxes (GMime
// parses the list; untouched lists stay byte for byte, a list left empty is deleted); a Received
// header naming a personal address or the agent's SASL login is deleted whole (trace text is
// never edited), except the MTA's own, which milters cannot delete.
// The original From and the agent are kept on the ticket message.
//
// Reply tokens: core/reply_token.h.
//
// Limits: agent lookups are linear scans over the configured agents (a few hundred at most is
// the expected size); trusted_networks are parsed per call.
// Agents' mail runs through the one end-of-message pipeline (core/pipeline.h): its attachments
// are judged by the agent's queue's policy and scanned like customers' mail.
// Thread-safety: pure functions over an immutable Config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/config.h"
#include "core/decision.h"
#include "core/message.h"
#include "core/reply_token.h"

namespace desk {

struct AgentIdentity {
  const AgentConfig* agent = nullptr;  // nullptr: the sender is no agent
  const QueueConfig* queue = nullptr;  // the first queue that lists the agent
  std::string via;                     // "auth" or "trusted_network"
};

// auth_user: {auth_authen} ("" unauthenticated), compared case-insensitively with the logins.
// client_addr: {client_addr} ("192.0.2.1", "::1" or "IPv6:::1"). mail_from: the envelope sender.
AgentIdentity IdentifyAgent(const Config& config, std::string_view auth_user,
                            std::string_view client_addr, std::string_view mail_from);

// True when addr is inside one of the CIDR networks (malformed entries never match).
bool InNetworks(const std::vector<std::string>& cidrs, std::string_view addr);

// The first configured agent with this address (any form), or nullptr.
const AgentConfig* FindAgentByAddress(const Config& config, std::string_view addr);

enum class AgentMailKind { kPersonal, kSupport, kReply, kInternalNote, kNew };
const char* AgentMailKindName(AgentMailKind k);  // "personal", "support", "agent_reply", ...

struct AgentMailFacts {
  bool threads = false;           // joins an existing ticket
  bool outside_rcpt = false;      // an envelope recipient that is no support address or agent
  bool support_involved = false;  // a support address is the From, or in To, Cc or the envelope
  bool to_support = false;        // an envelope recipient is a support address
};
AgentMailKind ClassifyAgentMail(const AgentMailFacts& facts);

// The reply-via address of a ticket of queue received at received_at: the queue's reply_via
// mapping of the configured address it matched, if any; else that support address (without plus
// tag) when it is one of the queue's exact addresses, else queue.default_address.
std::string ReplyViaAddress(const QueueRouter& router, const QueueConfig& queue,
                            const std::string& received_at);

// "name" <addr>, with the display name quoted or RFC 2047 encoded as needed.
std::string FormatFromHeader(const std::string& name, const std::string& address);

// "Name <address>", or the address alone: how an agent is named in ticket events.
std::string AgentLabel(const AgentConfig& agent);

// The rewrite of an agent's mail to a customer (see the top of this file).
struct AgentRewrite {
  const QueueConfig* queue = nullptr;
  const AgentConfig* agent = nullptr;
  std::string via;       // reply-via address
  std::string reply_to;  // Reply-To address
  uint64_t ticket = 0;   // 0: unknown (dry run of a new ticket): no tag
  std::vector<std::string> personal;  // addresses to scrub from the headers
  // The MTA's queue id ("" from deskctl). A first header that is a Received naming it ("id QID")
  // is the MTA's own trace of this transaction: Postfix leaves its own Received out of
  // smfi_chgheader's indexes (Received #1 is the one after it), so it is neither deleted nor
  // counted. Postfix 3 does not show it to the milter at all (e2e test_agents.py).
  std::string queue_id;
};
// Appends the header edits to d->header_changes and sets d->envelope_from (rewrite_envelope).
void PlanAgentRewrite(const AgentRewrite& r, const ParsedMessage& msg, Decision* d);

}  // namespace desk
