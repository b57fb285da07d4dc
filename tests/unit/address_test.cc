#include "core/address.h"
#include "config/loader.h"

#include <gtest/gtest.h>

namespace desk {
namespace {

Config TwoQueues() {
  Config c;
  QueueConfig support = config::DefaultQueueConfig();
  support.name = "support";
  support.addresses = {"support@example.com", "*@help.example.com"};
  QueueConfig billing = config::DefaultQueueConfig();
  billing.name = "billing";
  billing.addresses = {"Billing@Example.com", "vip@help.example.com"};
  c.queues = {support, billing};
  return c;
}

TEST(AddressTest, Normalize) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"<Foo@Example.COM>", "foo@example.com"},
      {"  bar@x.org ", "bar@x.org"},
      {"<>", ""},
      {"", ""},
      // Spellings that Postfix delivers to the same mailbox (issue 12, item 2).
      {"<support@example.test.>", "support@example.test"},
      {"<\"support\"@example.test>", "support@example.test"},
      {"<\"Sup\\port\"@Example.Test..>", "support@example.test"},
      {"<@relay.example,@other.example:support@example.test>", "support@example.test"},
      {"\"a@b\"@example.test", "a@b@example.test"},
      {"postmaster", "postmaster"},
  };
  for (const auto& c : cases) EXPECT_EQ(NormalizeAddress(c.in), c.want) << c.in;
}

TEST(AddressTest, SplitPlus) {
  struct Case {
    const char* in;
    const char* want_base;
    const char* want_tag;
  } cases[] = {
      {"support+abc@example.com", "support@example.com", "abc"},
      {"support+a+b@example.com", "support@example.com", "a+b"},
      {"support@example.com", "support@example.com", ""},
      {"+x@example.com", "+x@example.com", ""},
      {"odd+tag", "odd+tag", ""},
  };
  for (const auto& c : cases) {
    std::string got_base, got_tag;
    SplitPlus(c.in, &got_base, &got_tag);
    EXPECT_EQ(got_base, c.want_base) << c.in;
    EXPECT_EQ(got_tag, c.want_tag) << c.in;
  }
}

TEST(AddressTest, Match) {
  Config cfg = TwoQueues();
  QueueRouter r;
  ASSERT_TRUE(QueueRouter::Build(cfg, &r).ok());
  struct Case {
    const char* rcpt;
    const char* want_queue;  // nullptr: not support
    const char* want_support;
    const char* want_tag;
  } cases[] = {
      {"support@example.com", "support", "support@example.com", ""},
      {"<SUPPORT@EXAMPLE.COM>", "support", "support@example.com", ""},
      {"support+order-17@example.com", "support", "support@example.com", "order-17"},
      {"anyone@help.example.com", "support", "*@help.example.com", ""},
      {"any+thing@help.example.com", "support", "*@help.example.com", ""},
      {"vip@help.example.com", "billing", "vip@help.example.com", ""},  // exact beats wildcard
      {"billing@example.com", "billing", "billing@example.com", ""},
      {"other@example.com", nullptr, "", ""},
      {"support@example.org", nullptr, "", ""},
      {"x@sub.help.example.com", nullptr, "", ""},
      {"supportexample.com", nullptr, "", ""},
      {"", nullptr, "", ""},
      // Issue 12, item 2: other spellings of a support address are that support address.
      {"<support@example.com.>", "support", "support@example.com", ""},
      {"<\"support\"@example.com>", "support", "support@example.com", ""},
      {"<\"support+x\"@Example.Com.>", "support", "support@example.com", "x"},
      {"<@mx.example.org:billing@example.com>", "billing", "billing@example.com", ""},
      {"<\"any one\"@help.example.com>", "support", "*@help.example.com", ""},
  };
  for (const auto& c : cases) {
    QueueMatch got = r.Match(c.rcpt);
    if (c.want_queue == nullptr) {
      EXPECT_EQ(got.queue, nullptr) << c.rcpt;
      continue;
    }
    ASSERT_NE(got.queue, nullptr) << c.rcpt;
    EXPECT_EQ(got.queue->name, c.want_queue) << c.rcpt;
    EXPECT_EQ(got.support_address, c.want_support) << c.rcpt;
    EXPECT_EQ(got.plus_tag, c.want_tag) << c.rcpt;
  }
}

TEST(AddressTest, BuildRejectsBadOrSharedAddresses) {
  struct Case {
    std::vector<std::string> a, b;
  } cases[] = {
      {{"support@example.com"}, {"SUPPORT@example.com"}},
      {{"*@help.example.com"}, {"*@help.example.com"}},
      {{"not-an-address"}, {"b@example.com"}},
      {{"a@"}, {"b@example.com"}},
      {{"a b@example.com"}, {"b@example.com"}},
  };
  for (const auto& c : cases) {
    Config cfg;
    cfg.queues.resize(2);
    cfg.queues[0].name = "one";
    cfg.queues[0].addresses = c.a;
    cfg.queues[1].name = "two";
    cfg.queues[1].addresses = c.b;
    QueueRouter r;
    Status st = QueueRouter::Build(cfg, &r);
    EXPECT_FALSE(st.ok()) << c.a[0] << " / " << c.b[0];
    EXPECT_EQ(st.error_class(), ErrorClass::kConfig);
  }
}

TEST(AddressTest, ThreeThousandAddresses) {
  Config cfg;
  cfg.queues.resize(1);
  cfg.queues[0].name = "big";
  for (int i = 0; i < 3000; ++i) {
    cfg.queues[0].addresses.push_back("desk" + std::to_string(i) + "@example.com");
  }
  QueueRouter r;
  ASSERT_TRUE(QueueRouter::Build(cfg, &r).ok());
  EXPECT_TRUE(r.IsSupportAddress("desk2999@example.com"));
  EXPECT_TRUE(r.IsSupportAddress("desk0+x@example.com"));
  EXPECT_FALSE(r.IsSupportAddress("desk3000@example.com"));
}

}  // namespace
}  // namespace desk
