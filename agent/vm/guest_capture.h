#pragma once
// A guest booted with `vmcheck.capture` (vm-check --capture) sends the proc
// and sysfs files the agent's probe reads and its whole kernel log as a
// base64 tar.gz between two console markers (agent/vm/guest/init). Unpacked,
// it is a sysroot `iommuvm-agent inspect --sysroot DIR --kernel-log
// DIR/dmesg.txt` judges as the guest did: real captures of real kernels,
// made here, for the tests and for anyone checking the probe.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

inline constexpr char kCaptureToken[] = "vmcheck.capture=1";
inline constexpr char kCaptureBeginMarker[] = "IOMMUVM-CAPTURE-BEGIN";
inline constexpr char kCaptureEndMarker[] = "IOMMUVM-CAPTURE-END";

// The archive's bytes (a tar.gz) from the console text; an error when the
// markers are missing or the text between them is not base64.
absl::StatusOr<std::string> ExtractCapture(const std::string& console);

// Replaces `dir` with the archive's contents (tar keeps the links).
absl::Status UnpackCapture(const std::string& archive, const std::string& dir,
                           CommandRunner* runner, FileSystem* files);

}  // namespace iommuvm::agent
