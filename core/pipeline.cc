// The end-of-message pipeline: the runner and the stages up to Thread. Plan, Commit and the
// delivery edits (with the one builder of stored messages and events) are in core/plan_stage.cc.
// Contracts: pipeline.h.
#include "core/pipeline.h"

#include <algorithm>


namespace desk {
namespace {

Step Fail(MessageContext& ctx, const Status& st) {
  ctx.d = FailureDecision(*ctx.env.config, st);
  return Step::kDone;
}

ThreadOptions ThreadOptionsFor(const MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  ThreadOptions o;
  o.max_references = cfg.max_references;
  o.reply_token_secret = cfg.reply_token_secret;
  o.signature = ctx.signature;
  o.now = ctx.now;
  o.reply_token_max_age = cfg.reply_token_max_age_days * 86400;
  const Config* config = ctx.env.config;
  const QueueRouter* router = ctx.env.router;
  o.inside = [config, router](const std::string& a) {
    return router->IsSupportAddress(a) || FindAgentByAddress(*config, a) != nullptr;
  };
  return o;
}

// Agents' mail: threaded here, because which kind of agent mail it is depends on the thread.
Step ClassifyAgentMail(MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  const QueueRouter& router = *ctx.env.router;
  const AgentConfig& agent = *ctx.agent.agent;
  TicketStore* store = ctx.env.store;
  const ParsedMessage& msg = ctx.msg;

  // Who the mail goes to, and which support address it involves (From first, then To, Cc, and
  // the envelope, which also sees Bcc).
  auto outside = [&](const std::string& addr) {
    std::string a = NormalizeAddress(addr);
    return !a.empty() && a.find('@') != std::string::npos && !router.IsSupportAddress(a) &&
           FindAgentByAddress(cfg, a) == nullptr;
  };
  for (const std::string& r : ctx.envelope.rcpts) {
    if (outside(r)) ctx.outside_rcpts.push_back(NormalizeAddress(r));
  }
  QueueMatch involved = router.Match(msg.from.address);
  for (const auto* list : {&msg.to, &msg.cc}) {
    for (const Mailbox& m : *list) {
      if (involved.queue == nullptr) involved = router.Match(m.address);
    }
  }
  if (involved.queue == nullptr && !ctx.support.empty()) involved = ctx.support.front();

  QueueMatch thread_match;
  thread_match.queue = involved.queue != nullptr ? involved.queue : ctx.agent.queue;
  ThreadResult& thread = ctx.thread;
  Status st = ResolveThread(store, msg, thread_match, agent.address, ThreadOptionsFor(ctx), &thread);
  if (!st.ok()) return Fail(ctx, st);
  bool have_ticket = false;
  bool d0_tag_refused = false;
  if (thread.kind == ThreadResult::Kind::kNew && thread.ignored_tag_ticket != 0 &&
      store != nullptr) {
    // An identified agent may name any existing ticket by its tag, but only in mail addressed to
    // that ticket's participants or a support address (issue 18 item 4): an outsider who wrote
    // "[#N]" to the agent's personal address gets a personal answer, not ticket N's reply token.
    st = store->GetTicket(thread.ignored_tag_ticket, &ctx.ticket);
    auto addressed_to_ticket = [&] {
      auto in_ticket = [&](const std::string& a) {
        const std::string n = NormalizeAddress(a);
        if (n.empty()) return false;
        if (router.IsSupportAddress(n)) return true;
        const auto& p = ctx.ticket.participants;
        return std::find(p.begin(), p.end(), n) != p.end();
      };
      for (const std::string& r : ctx.envelope.rcpts) {
        if (in_ticket(r)) return true;
      }
      for (const auto* list : {&msg.to, &msg.cc}) {
        for (const Mailbox& m : *list) {
          if (in_ticket(m.address)) return true;
        }
      }
      return false;
    };
    if (st.ok() && !addressed_to_ticket()) {
      ctx.ticket = Ticket();
      d0_tag_refused = true;
    } else if (st.ok()) {
      thread.kind = ThreadResult::Kind::kReply;
      thread.ticket = ctx.ticket.number;
      thread.matched_by = "subject_tag";
      have_ticket = true;
    } else if (!st.IsNotFound()) {
      return Fail(ctx, st);
    }
  }
  if (thread.kind != ThreadResult::Kind::kNew && !have_ticket && store != nullptr) {
    st = store->GetTicket(thread.ticket, &ctx.ticket);
    if (!st.ok()) return Fail(ctx, st);
  }

  AgentMailFacts facts;
  facts.threads = thread.kind != ThreadResult::Kind::kNew;
  facts.outside_rcpt = !ctx.outside_rcpts.empty();
  facts.support_involved = involved.queue != nullptr;
  facts.to_support = !ctx.support.empty();
  const AgentMailKind kind = ClassifyAgentMail(facts);
  if (kind == AgentMailKind::kSupport) {
    // Rule 1: an agent writing to a support address like a customer.
    ctx.thread = ThreadResult();
    ctx.outside_rcpts.clear();
    return Step::kNext;
  }

  Decision& d = ctx.d;
  d.message_id = msg.message_id;
  d.log_fields.emplace_back("agent", agent.address);
  d.log_fields.emplace_back("agent_by", ctx.agent.via);
  d.reasons.push_back("agent:" + ctx.agent.via);
  if (kind == AgentMailKind::kPersonal) {
    d.kind = "not_support";
    d.ticket_action = "none";
    d.reasons.push_back("agent_personal");
    if (d0_tag_refused) d.reasons.push_back("tag_ignored:" + std::to_string(thread.ignored_tag_ticket));
    return Step::kDone;
  }
  ctx.threaded = true;
  ctx.role = kind == AgentMailKind::kReply       ? MailRole::kAgentReply
             : kind == AgentMailKind::kInternalNote ? MailRole::kAgentNote
                                                    : MailRole::kAgentNew;
  const QueueConfig* queue = nullptr;
  if (facts.threads) {
    for (const QueueConfig& q : cfg.queues) {
      if (q.name == ctx.ticket.queue) queue = &q;
    }
  } else {
    queue = involved.queue;
  }
  if (queue == nullptr) queue = thread_match.queue;  // the ticket's queue left the config
  ctx.queue = queue;
  ctx.route = involved;
  ctx.sender = agent.address;
  d.queue = queue->name;
  d.kind = AgentMailKindName(kind);
  if (!thread.matched_by.empty()) d.reasons.push_back("thread:" + thread.matched_by);
  return Step::kNext;
}

// Customers' mail: the automatic-mail class and what its configuration says.
Step ClassifyCustomerMail(MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  const ParsedMessage& msg = ctx.msg;
  ctx.role = MailRole::kCustomer;
  ctx.route = ctx.support.front();
  ctx.queue = ctx.route.queue;
  ctx.sender = NormalizeAddress(msg.from.address);
  if (ctx.sender.empty()) ctx.sender = NormalizeAddress(ctx.envelope.mail_from);

  std::string body_prefix;
  Status st = ctx.spool.Read(msg.body_offset, kAutoMailBodyScanBytes, &body_prefix);
  if (!st.ok()) return Fail(ctx, st);
  if (msg.bare_cr_line_ends) BareCrToLf(&body_prefix);  // read as the parser read it
  size_t skip = body_prefix.rfind("\r\n", 0) == 0 ? 2 : (body_prefix.rfind("\n", 0) == 0 ? 1 : 0);
  AutoMailInput in;
  in.envelope_from = ctx.envelope.mail_from;
  in.msg = &msg;
  in.raw_body_prefix = std::string_view(body_prefix).substr(skip);
  ctx.auto_verdict = ClassifyAutoMail(in, *ctx.env.auto_rules);
  const AutoVerdict& av = ctx.auto_verdict;
  if (av.kind == AutoKind::kNone) return Step::kNext;

  Outcome action = Outcome::kAccept;
  TicketEffect effect = TicketEffect::kNone;
  switch (av.kind) {
    case AutoKind::kLoop: action = cfg.loop_action; break;
    case AutoKind::kOwn: action = cfg.own_action; effect = cfg.own_ticket; break;
    case AutoKind::kBounce: action = cfg.bounce_action; effect = cfg.bounce_ticket; break;
    case AutoKind::kAutoReply:
      action = cfg.auto_reply_action;
      effect = cfg.auto_reply_ticket;
      break;
    case AutoKind::kList: action = cfg.list_action; effect = cfg.list_ticket; break;
    case AutoKind::kNone: break;
  }
  ctx.class_outcome = action;
  ctx.class_effect = effect;
  const bool writes = action == Outcome::kAccept || action == Outcome::kHold;
  // kOpen: like a person's mail. kRecord: joins its ticket if it threads, never opens one (a
  // bounce is recorded as an event on the ticket of the message it reports instead).
  ctx.ticketless = !(writes && (effect == TicketEffect::kOpen ||
                                (effect == TicketEffect::kRecord && av.kind != AutoKind::kBounce)));
  ctx.may_open = effect == TicketEffect::kOpen;
  const std::string cls = AutoKindName(av.kind);
  ctx.d.auto_class = cls;
  ctx.d.auto_rule = av.rule;
  if (action != Outcome::kAccept) {
    ctx.d.Set(action, FailureClass::kAutoMail, cls + " (" + av.rule + ")");
  }
  return Step::kNext;
}

}  // namespace

ParseLimits ParseLimitsFromConfig(const Config& cfg) {
  ParseLimits limits;
  limits.max_header_bytes = cfg.max_header_bytes;
  limits.max_mime_depth = cfg.max_mime_depth;
  limits.max_mime_parts = cfg.max_mime_parts;
  limits.max_body_chars = cfg.max_body_chars;
  limits.hostname = cfg.hostname;
  limits.decode_dir = cfg.spool_dir;
  limits.decode_threshold = static_cast<uint64_t>(cfg.spool_threshold);
  return limits;
}

Decision FailureDecision(const Config& c, const Status& st) {
  Outcome action = c.on_internal_error;
  FailureClass failure = FailureClass::kInternal;
  const char* what = "internal error";
  switch (st.error_class()) {
    case ErrorClass::kMalformed:
      action = c.on_malformed;
      failure = FailureClass::kMalformed;
      what = "malformed message";
      break;
    case ErrorClass::kStore:
      action = c.on_store_error;
      failure = FailureClass::kStore;
      what = "ticket store error";
      break;
    case ErrorClass::kScanner: failure = FailureClass::kScanner; break;
    default: break;
  }
  Decision d;
  d.kind = "error";
  d.ticket_action = "none";
  d.error = st.ToString();
  d.reasons.push_back(std::string(ErrorClassName(st.error_class())));
  // Malformed-mail reasons describe the sender's mail and help its author; the adapter keeps
  // other failures generic on the wire (milter/reply.h), the hold header and the log detail them.
  d.Set(action, failure, std::string(what) + ": " + st.message());
  return d;
}

Step ParseStage(MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  ctx.policy_queue = !ctx.support.empty() ? ctx.support.front().queue : ctx.agent.queue;
  if (ctx.policy_queue != nullptr) {
    ctx.collector = std::make_unique<AttachmentCollector>(
        *ctx.env.attachments, *ctx.policy_queue,
        static_cast<size_t>(ctx.policy_queue - cfg.queues.data()),
        !ctx.dry_run && ctx.env.store != nullptr, ctx.env.clock);
  }
  Status st = ParseMessage(ctx.spool, ParseLimitsFromConfig(cfg), ctx.collector.get(), &ctx.msg);
  if (!st.ok()) return Fail(ctx, st);
  for (const std::string& name : ctx.msg.addresses_cut) {
    ctx.d.reasons.push_back("address_list_cut:" + name);
  }
  ctx.signature = ContentSignature(ctx.spool, ctx.msg, NormalizeAddress(ctx.envelope.mail_from));
  if (ctx.signature.empty()) return Fail(ctx, Status::Internal("spool read error"));
  return Step::kNext;
}

Step ClassifyStage(MessageContext& ctx) {
  if (ctx.agent.agent != nullptr) {
    Step s = ClassifyAgentMail(ctx);
    if (s != Step::kNext || ctx.role != MailRole::kCustomer || ctx.threaded) return s;
  }
  if (ctx.support.empty()) {  // an agent's mail that is not the desk's after all
    ctx.d.kind = "not_support";
    ctx.d.ticket_action = "none";
    return Step::kDone;
  }
  return ClassifyCustomerMail(ctx);
}

Step AttachmentsStage(MessageContext& ctx) {
  Decision& d = ctx.d;
  // The class's outcome (already in d) and the attachments' are both decided; the most severe
  // wins, so no class can carry a refused attachment or a virus past the filter.
  const Decision by_class{d.verdict, d.failure, d.reason};
  if (ctx.collector != nullptr) {
    Decision by_attachments;
    bool refused = false;
    Status st = ctx.collector->Finish(ctx.spool, ctx.msg, ctx.now, &by_attachments,
                                      &ctx.stored_attachments, &ctx.attachment_events, &refused);
    if (!st.ok()) return Fail(ctx, st);
    if (OutcomeSeverity(by_attachments.verdict) >= OutcomeSeverity(by_class.verdict) &&
        by_attachments.verdict != Outcome::kAccept) {
      d.Set(by_attachments.verdict, by_attachments.failure, by_attachments.reason);
    }
    d.replacement_body = std::move(by_attachments.replacement_body);
    d.attachments = std::move(by_attachments.attachments);
    d.extra_log_lines = std::move(by_attachments.extra_log_lines);
    d.reasons.insert(d.reasons.end(), by_attachments.reasons.begin(),
                     by_attachments.reasons.end());
  }
  d.queue = ctx.queue->name;
  d.message_id = ctx.msg.message_id;
  if (d.verdict == Outcome::kReject || d.verdict == Outcome::kTempfail ||
      d.verdict == Outcome::kDiscard) {
    if (IsAttachmentClass(d.failure)) {
      d.kind = "attachment";
    } else if (ctx.role == MailRole::kCustomer && !d.auto_class.empty()) {
      d.kind = d.auto_class;
    }
    d.ticket = std::nullopt;
    d.ticket_action = "none";
    d.replacement_body.reset();
    return Step::kDone;
  }
  if (ctx.ticketless) d.kind = d.auto_class;
  return Step::kNext;
}

Step ThreadStage(MessageContext& ctx) {
  if (ctx.threaded || ctx.ticketless) return Step::kNext;
  Status st = ResolveThread(ctx.env.store, ctx.msg, ctx.route, ctx.sender, ThreadOptionsFor(ctx),
                            &ctx.thread);
  if (!st.ok()) return Fail(ctx, st);
  ctx.threaded = true;
  if (!ctx.may_open && ctx.thread.kind == ThreadResult::Kind::kNew) {
    // Automatic mail that does not thread opens no ticket (its flood count still stands).
    ctx.ticketless = true;
    ctx.d.kind = ctx.d.auto_class;
  }
  return Step::kNext;
}

const std::vector<StageSpec>& PipelineStages() {
  static const std::vector<StageSpec> kStages = {
      {"parse", ParseStage},   {"classify", ClassifyStage}, {"attachments", AttachmentsStage},
      {"thread", ThreadStage}, {"plan", PlanStage},         {"commit", CommitStage},
      {"delivery_edits", DeliveryEditsStage},
  };
  return kStages;
}

Decision RunPipeline(MessageContext& ctx) {
  const std::vector<StageSpec>& stages = PipelineStages();
  for (size_t i = 0; i < stages.size(); ++i) {
    const Step step = stages[i].run(ctx);
    if (step == Step::kDone) break;
    if (step == Step::kDeliver) {
      DeliveryEditsStage(ctx);
      break;
    }
  }
  return std::move(ctx.d);
}

}  // namespace desk
