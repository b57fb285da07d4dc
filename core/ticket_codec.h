// ticket_codec: how the LMDB ticket store lays out its keys and encodes its values.
//
// Values: one byte of encoding version (kEncodingVersion), then CBOR of a JSON object with short,
// readable field names. Decoding tolerates missing optional fields (a later version may add fields;
// an older record simply lacks them and gets the struct default) and ignores unknown ones; it
// rejects an unknown encoding version, a missing required field, a field of the wrong type and
// bytes that are not CBOR, as kStore "corrupt record ..." / "... encoding version ..." errors. It
// never throws and never crashes on garbage.
//
// Keys (byte-wise order is LMDB's order, so big-endian numbers sort numerically):
//   ticket          u64 number, big-endian (8 bytes)
//   message, event  u64 ticket ++ u32 seq, big-endian (12 bytes); a ticket's entries are contiguous
//   flood counter   "flood" 0x1f queue 0x1f sender, then hashed like a long Message-ID
//   Message-ID      the id's bytes. An id longer than kMaxKeyBytes (LMDB's key limit) or one that
//                   itself starts with "sha256:" is stored as "sha256:" + lower-case hex SHA-256 of
//                   the id, so the two spaces never collide (short of a SHA-256 collision).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/ticket.h"
#include "core/ticket_store.h"

namespace desk::codec {

inline constexpr uint8_t kEncodingVersion = 1;
inline constexpr size_t kMaxKeyBytes = 511;  // LMDB's default MDB_MAXKEYSIZE
inline constexpr std::string_view kHashedIdPrefix = "sha256:";

std::string TicketKey(uint64_t number);
// Returns false when key is not an 8-byte ticket key.
bool ParseTicketKey(std::string_view key, uint64_t* number);
std::string EntryKey(uint64_t ticket, uint32_t seq);
// "" for an empty id (LMDB cannot store an empty key; callers treat it as absent).
std::string MessageIdKey(std::string_view message_id);

std::string EncodeTicket(const Ticket& t);
Status DecodeTicket(std::string_view value, Ticket* out);

std::string EncodeMessage(const TicketMessage& m);
// The same with seq in place of m.seq (the store numbers messages without copying them).
std::string EncodeMessage(const TicketMessage& m, uint32_t seq);
Status DecodeMessage(std::string_view value, TicketMessage* out);

std::string EncodeEvent(const TicketEvent& e);
Status DecodeEvent(std::string_view value, TicketEvent* out);

std::string EncodeMessageIdEntry(const MessageIdEntry& e);
Status DecodeMessageIdEntry(std::string_view value, MessageIdEntry* out);

// meta values ("version", "next_ticket"): the same framing around a CBOR unsigned integer.
std::string EncodeMetaU64(uint64_t v);
// outbox: key u64 seq big-endian (TicketKey's form); value the same framing around CBOR.
std::string EncodeOutboxMail(const OutboxMail& m);
Status DecodeOutboxMail(std::string_view value, OutboxMail* out);
Status DecodeMetaU64(std::string_view value, uint64_t* out);

// agents table: AgentKey(address) -> AgentStateRecord; agent_events: u64 seq (TicketKey's form)
// -> AgentStateEvent; routing: RouteMarkKey(queue, agent) -> meta-style u64 (the last ticket
// automatic routing gave the agent in that queue). Keys are hashed like long Message-IDs.
std::string EncodeAgentState(const AgentStateRecord& r);
Status DecodeAgentState(std::string_view value, AgentStateRecord* out);
std::string EncodeAgentStateEvent(const AgentStateEvent& e);
Status DecodeAgentStateEvent(std::string_view value, AgentStateEvent* out);
std::string AgentKey(std::string_view address);
std::string RouteMarkKey(std::string_view queue, std::string_view address);

// counters table (flood protection): the key of (queue, sender), and the value: version byte 1,
// window start (i64 big-endian), count (u64 big-endian). DecodeCounter returns false on anything
// else (the caller starts a new window).
std::string FloodCounterKey(std::string_view queue, std::string_view sender);
std::string EncodeCounter(int64_t window_start, uint64_t count);
bool DecodeCounter(std::string_view value, int64_t* window_start, uint64_t* count);

}  // namespace desk::codec
