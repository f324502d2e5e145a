#include "agent/vm/initrd_overlay.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {
namespace {

// The archive is what the kernel's initramfs unpacker and cpio(1) read.
TEST(InitrdOverlayTest, CpioReadsTheFilesBackWithTheirModes) {
  LocalCommandRunner runner;
  if (!runner.Which("cpio").ok()) GTEST_SKIP() << "cpio is not installed";
  char tmpl[] = "/tmp/iommuvm-cpio-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  LocalFileSystem fs;
  std::string archive = CpioArchive({{"/etc/iommuvm/tls/ca.crt", "CA\n", 0644},
                                     {"/etc/iommuvm/tls/agent-h.key", "KEY", 0600},
                                     {"/odd", "12345", 0644}});
  EXPECT_EQ(archive.size() % 4, 0u);
  ASSERT_TRUE(fs.WriteFile(dir + "/a.cpio", archive).ok());
  CommandSpec spec;
  spec.argv = {"sh", "-c", "cd " + dir + "/out && cpio -idm --quiet < ../a.cpio"};
  ASSERT_TRUE(fs.MakeDirs(dir + "/out").ok());
  auto r = runner.Run(spec);
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : std::string(r.status().message()));
  EXPECT_EQ(fs.ReadFile(dir + "/out/etc/iommuvm/tls/ca.crt").value_or(""), "CA\n");
  EXPECT_EQ(fs.ReadFile(dir + "/out/etc/iommuvm/tls/agent-h.key").value_or(""), "KEY");
  EXPECT_EQ(fs.ReadFile(dir + "/out/odd").value_or(""), "12345");
  struct stat st {};
  ASSERT_EQ(stat((dir + "/out/etc/iommuvm/tls/agent-h.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  (void)fs.RemoveAll(dir);
}

}  // namespace
}  // namespace iommuvm::agent
