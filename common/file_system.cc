#include "common/file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace iommuvm {
namespace fs = std::filesystem;

namespace {
absl::Status FromErrorCode(const std::error_code& ec, const std::string& what,
                           const std::string& path) {
  std::string msg = absl::StrCat(what, " ", path, ": ", ec.message());
  if (ec == std::errc::no_such_file_or_directory) return absl::NotFoundError(msg);
  if (ec == std::errc::permission_denied) return absl::PermissionDeniedError(msg);
  // A full disk (or quota) may pass: callers can tell it from a fault.
  if (ec == std::errc::no_space_on_device || ec.value() == EDQUOT) {
    return absl::ResourceExhaustedError(msg);
  }
  return absl::InternalError(msg);
}
}  // namespace

std::string ReadTrimmed(const FileSystem& fs, const std::string& path) {
  auto s = fs.ReadFile(path);
  return s.ok() ? std::string(absl::StripAsciiWhitespace(*s)) : "";
}

LocalFileSystem::LocalFileSystem(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalFileSystem::HostPath(const std::string& path) const {
  if (root_ == "/" || root_.empty()) return path;
  return path.empty() || path[0] != '/' ? absl::StrCat(root_, "/", path)
                                        : absl::StrCat(root_, path);
}

absl::StatusOr<std::string> LocalFileSystem::ReadFile(const std::string& path) const {
  std::string host = HostPath(path);
  std::ifstream in(host, std::ios::binary);
  if (!in) {
    return FromErrorCode(std::error_code(errno, std::generic_category()),
                         "cannot read", host);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

namespace {

// Writes all of `content` to the file at `host` opened with `flags`,
// creating parent directories. Plain open/write (no temp file + rename) so
// sysfs attribute writes work, and the kernel's own error (EBUSY, EINVAL)
// reaches the caller.
absl::Status WriteAll(const std::string& host, absl::string_view content, int flags) {
  std::error_code ec;
  fs::create_directories(fs::path(host).parent_path(), ec);
  int fd = ::open(host.c_str(), flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return FromErrorCode(std::error_code(errno, std::generic_category()), "cannot write", host);
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::error_code err(n < 0 ? errno : EIO, std::generic_category());
      ::close(fd);
      std::string what = content.size() <= 64 ? absl::StrCat("cannot write '", content, "' to")
                                              : "cannot write";
      return FromErrorCode(err, what, host);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    return FromErrorCode(std::error_code(errno, std::generic_category()), "cannot write", host);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LocalFileSystem::WriteFile(const std::string& path, const std::string& content) {
  return WriteAll(HostPath(path), content, O_TRUNC);
}

absl::Status LocalFileSystem::AppendFile(const std::string& path, absl::string_view content) {
  return WriteAll(HostPath(path), content, O_APPEND);
}

bool LocalFileSystem::Exists(const std::string& path) const {
  std::error_code ec;
  return fs::exists(HostPath(path), ec);
}

absl::StatusOr<std::vector<std::string>> LocalFileSystem::ListDir(
    const std::string& path) const {
  std::string host = HostPath(path);
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(host, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return FromErrorCode(ec, "cannot list", host);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::string> LocalFileSystem::ReadLink(const std::string& path) const {
  std::string host = HostPath(path);
  std::error_code ec;
  fs::path target = fs::read_symlink(host, ec);
  if (ec) return FromErrorCode(ec, "cannot readlink", host);
  return target.string();
}

absl::Status LocalFileSystem::MakeDirs(const std::string& path) {
  std::string host = HostPath(path);
  std::error_code ec;
  fs::create_directories(host, ec);
  if (ec) return FromErrorCode(ec, "cannot create directory", host);
  return absl::OkStatus();
}

absl::Status LocalFileSystem::RemoveAll(const std::string& path) {
  std::string host = HostPath(path);
  std::error_code ec;
  fs::remove_all(host, ec);
  if (ec) return FromErrorCode(ec, "cannot remove", host);
  return absl::OkStatus();
}

std::string AbsolutePath(const std::string& path) {
  return fs::absolute(path).lexically_normal().string();
}

}  // namespace iommuvm
