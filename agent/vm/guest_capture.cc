#include "agent/vm/guest_capture.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

absl::StatusOr<std::string> ExtractCapture(const std::string& console) {
  size_t begin = console.find(kCaptureBeginMarker);
  size_t end = console.find(kCaptureEndMarker);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    return absl::UnavailableError(
        "the guest's capture is missing or cut short (was it booted with vmcheck.capture=1?)");
  }
  begin += sizeof(kCaptureBeginMarker) - 1;
  std::string text;
  for (char ch : console.substr(begin, end - begin)) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(ch))) text.push_back(ch);
  }
  std::string bytes;
  if (text.empty() || !absl::Base64Unescape(text, &bytes)) {
    return absl::DataLossError("the guest's capture is not base64 (a console line got into it?)");
  }
  return bytes;
}

absl::Status UnpackCapture(const std::string& archive, const std::string& dir,
                           CommandRunner* runner, FileSystem* files) {
  RETURN_IF_ERROR(files->RemoveAll(dir));
  RETURN_IF_ERROR(files->MakeDirs(dir));
  std::string file = dir + "/.capture.tar.gz";
  RETURN_IF_ERROR(files->WriteFile(file, archive));
  CommandSpec tar;
  tar.argv = {"tar", "-xzf", file, "-C", dir};
  auto r = runner->Run(tar);
  (void)files->RemoveAll(file);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::DataLossError(absl::StrCat("tar could not unpack the guest's capture: ", r->err));
  }
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
