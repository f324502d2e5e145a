#include "tests/support/scratch_disks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/command_runner.h"

namespace iommuvm::testing {
namespace {

// Runs argv; on failure returns false with its output in `why`.
bool Run(std::vector<std::string> argv, std::string* why) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  auto r = LocalCommandRunner().Run(spec);
  if (r.ok() && r->exit_code == 0) return true;
  if (why != nullptr) {
    *why = absl::StrCat(spec.argv[0], ": ", r.ok() ? r->err + r->out : r.status().ToString());
  }
  return false;
}

}  // namespace

void SmallDisk::Mount(const std::string& dir, std::unique_ptr<SmallDisk>* out) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  std::filesystem::create_directories(dir);
  std::string why;
  if (!Run({"mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir}, &why)) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << why;
  }
  out->reset(new SmallDisk(dir));
}

SmallDisk::~SmallDisk() { (void)Run({"umount", "-l", dir_}, nullptr); }

void SmallDisk::Fill() {
  (void)Run({"dd", "if=/dev/zero", "of=" + dir_ + "/filler", "bs=64k"}, nullptr);
}

void SmallDisk::Free() { std::filesystem::remove(dir_ + "/filler"); }

void BreakableDisk::Mount(const std::string& image, const std::string& dir,
                          std::unique_ptr<BreakableDisk>* out) {
  if (::geteuid() != 0) GTEST_SKIP() << "a loop-mounted ext4 needs root";
  std::filesystem::create_directories(dir);
  std::string why;
  if (!Run({"truncate", "-s", "64M", image}, &why) ||
      !Run({"mkfs.ext4", "-q", "-F", image}, &why)) {
    GTEST_SKIP() << "cannot make an ext4 image here: " << why;
  }
  if (!Run({"mount", "-o", "loop,errors=remount-ro", image, dir}, &why)) {
    GTEST_SKIP() << "cannot loop-mount an ext4 image here: " << why;
  }
  out->reset(new BreakableDisk(image, dir));
}

BreakableDisk::~BreakableDisk() { (void)Run({"umount", "-l", dir_}, nullptr); }

bool BreakableDisk::ForceReadOnly(std::string* why) {
  // The mount's block device names its directory in /sys/fs/ext4.
  std::string device;
  std::ifstream mounts("/proc/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::string dev = line.substr(0, line.find(' '));
    std::string rest = line.substr(line.find(' ') + 1);
    if (rest.rfind(dir_ + " ", 0) == 0) device = dev;
  }
  if (device.empty()) {
    *why = dir_ + " is not mounted";
    return false;
  }
  std::string name = device.substr(device.rfind('/') + 1);
  std::ofstream trigger("/sys/fs/ext4/" + name + "/trigger_fs_error");
  trigger << "iommuvm faults test\n";
  trigger.close();
  if (!trigger) {
    *why = "cannot write /sys/fs/ext4/" + name + "/trigger_fs_error";
    return false;
  }
  return true;
}

bool BreakableDisk::Repair(std::string* why) {
  if (!Run({"umount", dir_}, why)) return false;
  // 1: errors corrected, the expected outcome after an aborted journal.
  CommandSpec fsck;
  fsck.argv = {"e2fsck", "-fy", image_};
  auto r = LocalCommandRunner().Run(fsck);
  if (!r.ok() || r->exit_code > 1) {
    *why = "e2fsck: " + (r.ok() ? r->out + r->err : r.status().ToString());
    return false;
  }
  return Run({"mount", "-o", "loop,errors=remount-ro", image_, dir_}, why);
}

}  // namespace iommuvm::testing
