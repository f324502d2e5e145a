// Messages to agents leave only after the commits before them are synced,
// in order, to the agent's current session.

#include "controller/service/durable_gateway.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "controller/store/sqlite_store.h"

namespace iommuvm::service {
namespace {

class RecordingSink final : public SessionSink {
 public:
  void Write(const v1::ControllerMessage& msg) override { written.push_back(msg.ack().seq()); }
  void Close(const std::string& reason) override { closed = reason; }
  std::vector<uint64_t> written;
  std::string closed;
};

TEST(DurableGatewayTest, DeliversInOrderAfterASyncAndReportsWhoIsConnected) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("gateway_test_" + std::to_string(::getpid()) + ".db"))
                         .string();
  FakeClock clock;
  auto store = *store::SqliteStore::Open(path, &clock);
  SessionRegistry registry;
  RecordingSink sink;
  ASSERT_EQ(registry.Attach("a", &sink), SessionRegistry::Attached::kYes);
  DurableGateway gateway(store.get(), &registry);
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    v1::ControllerMessage ack;
    ack.mutable_ack()->set_seq(seq);
    EXPECT_TRUE(gateway.Send("a", ack));
  }
  v1::ControllerMessage lost;
  EXPECT_FALSE(gateway.Send("nobody", lost)) << "no session: said so, dropped at delivery";
  gateway.Flush();
  ASSERT_EQ(sink.written.size(), 100u);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(sink.written[i], i + 1);
  EXPECT_EQ(sink.closed, "");
  store.reset();
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
}

}  // namespace
}  // namespace iommuvm::service
