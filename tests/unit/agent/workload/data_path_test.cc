// The data-path check: the NIC under test must carry the load's bytes.
#include "agent/workload/data_path.h"

#include <gtest/gtest.h>

#include "agent/workload/load_generator.h"
#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

TEST(DataPathTest, FailsWithTheCountsWhenTheLoadWentElsewhere) {
  uint64_t payload = 4400000000ull;  // 4.1 GiB
  absl::Status s = CheckDataPath("enp202s0f0np0", payload * 12 / 100, payload);
  ASSERT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("only 12% of 4.1 GiB crossed enp202s0f0np0"), std::string::npos) << s;
  EXPECT_NE(s.message().find("is data_address on another interface?"), std::string::npos);
  // Headers make the NIC's count larger than the payload: that passes, as
  // does exactly the threshold.
  EXPECT_TRUE(CheckDataPath("eth1", payload * 105 / 100, payload).ok());
  EXPECT_TRUE(CheckDataPath("eth1", payload * 95 / 100, payload).ok());
  EXPECT_FALSE(CheckDataPath("eth1", payload * 94 / 100, payload).ok());
  EXPECT_EQ(DescribeDataPath("eth1", 2048, 1024), "2.0 KiB on eth1 for 1.0 KiB of payload (200%)");
}

TEST(DataPathTest, InterfaceBytesFromProcNetDev) {
  testing::SysrootBuilder root;
  root.File("/proc/net/dev",
            "Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
            "errs drop fifo colls carrier compressed\n"
            "    lo:  1000      10    0    0    0     0          0         0     1000      10    "
            "0    0    0     0       0          0\n"
            "  eth1: 123456   100    0    0    0     0          0         0   654321     200    "
            "0    0    0     0       0          0\n");
  LocalFileSystem fs(root.root());
  auto bytes = ReadInterfaceBytes(fs, "eth1");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->rx, 123456u);
  EXPECT_EQ(bytes->tx, 654321u);
  EXPECT_TRUE(absl::IsNotFound(ReadInterfaceBytes(fs, "eth9").status()));
}

TEST(DataPathTest, LoopbackHoldsLocalhost) {
  EXPECT_EQ(InterfaceWithAddress("127.0.0.1").value_or(""), "lo");
  EXPECT_FALSE(InterfaceWithAddress("192.0.2.77").has_value());  // TEST-NET-1: nobody's
  EXPECT_FALSE(InterfaceWithAddress("not an address").has_value());
}

TEST(DataPathTest, PayloadFromTheToolsCountElseRequests) {
  LoadResult r;
  v1::OperationResult op;
  op.set_requests(1000);
  op.set_duration_s(2);
  // redis-benchmark's bytes/s are requests × value size: a GET that misses
  // moves far less, so they are not a lower bound and are not used.
  op.set_throughput_bytes(1000 * 4096 / 2.0);
  r.operations.push_back(op);
  EXPECT_EQ(PayloadBytes(r), 8000u);  // 8 bytes a request at least
  EXPECT_EQ(MeasuredBytes(r.operations), 1000u * 4096);
  r.payload_bytes = 42;  // a tool's own count (wrk's bytes read, iperf3's bytes sent)
  EXPECT_EQ(PayloadBytes(r), 42u);
}

}  // namespace
}  // namespace iommuvm::agent
