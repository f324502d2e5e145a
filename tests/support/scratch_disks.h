#pragma once
// File systems a faults test can fill or break under a running daemon.
// Both need root; Mount() skips the current test (leaving `out` empty)
// where mounting is not possible, so callers check `if (!disk) return;`.

#include <memory>
#include <string>

namespace iommuvm::testing {

// An 8 MiB tmpfs that can be filled to the last block and freed again;
// unmounted on destruction.
class SmallDisk {
 public:
  static void Mount(const std::string& dir, std::unique_ptr<SmallDisk>* out);
  ~SmallDisk();
  void Fill();
  void Free();

 private:
  explicit SmallDisk(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// An ext4 file system in an image file on a loop device, mounted with
// errors=remount-ro. ForceReadOnly() raises the error a failing disk
// would (the kernel's trigger_fs_error): the journal aborts and whatever
// was written but not synced is lost, as after a power cut. Repair()
// unmounts, runs e2fsck and mounts again, as an operator would.
class BreakableDisk {
 public:
  static void Mount(const std::string& image, const std::string& dir,
                    std::unique_ptr<BreakableDisk>* out);
  ~BreakableDisk();
  // False with the reason in `why` when the kernel refused.
  bool ForceReadOnly(std::string* why);
  bool Repair(std::string* why);

 private:
  BreakableDisk(std::string image, std::string dir) : image_(std::move(image)), dir_(std::move(dir)) {}
  std::string image_;
  std::string dir_;
};

}  // namespace iommuvm::testing
