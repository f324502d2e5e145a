// docker/ as far as a machine without a container engine can verify it:
// the compose file is valid (docker-compose config), its Prometheus
// configuration passes promtool, every package the Dockerfile installs
// exists in Debian 12's archive, and the runtime stage's packages (with
// their dependencies) provide every shared library the shipped binaries
// load.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "tests/support/process_harness.h"

namespace iommuvm {
namespace {

CommandResult Exec(std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = absl::Seconds(60);
  auto r = LocalCommandRunner().Run(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

// The packages of each `apt-get install` in the Dockerfile, per stage.
std::vector<std::set<std::string>> InstalledPackages() {
  std::ifstream in(IOMMUVM_SOURCE_DIR "/docker/Dockerfile");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<std::set<std::string>> stages;
  size_t at = 0;
  while ((at = text.find("apt-get install", at)) != std::string::npos) {
    size_t end = text.find("&&", at);
    std::string cmd = text.substr(at, end - at);
    std::set<std::string> pkgs;
    for (absl::string_view w : absl::StrSplit(cmd, absl::ByAnyChar(" \\\n"), absl::SkipEmpty())) {
      if (w == "apt-get" || w == "install" || absl::StartsWith(w, "-")) continue;
      pkgs.insert(std::string(w));
    }
    stages.push_back(pkgs);
    at = end;
  }
  return stages;
}

TEST(DockerTest, ComposeAndPrometheusConfigsAreValid) {
  CommandResult compose =
      Exec({"docker-compose", "-f", IOMMUVM_SOURCE_DIR "/docker/compose.yaml", "config", "-q"});
  EXPECT_EQ(compose.exit_code, 0) << compose.out << compose.err;
  CommandResult prom =
      Exec({"promtool", "check", "config", IOMMUVM_SOURCE_DIR "/docker/prometheus.yml"});
  EXPECT_EQ(prom.exit_code, 0) << prom.out << prom.err;
}

// Nothing is reachable from other machines by default and there is no
// well-known password: every published port is bound to loopback, Grafana
// reads a password docker/up generates once.
TEST(DockerTest, PublishesOnlyOnLoopbackAndHasNoDefaultPassword) {
  CommandResult compose =
      Exec({"docker-compose", "-f", IOMMUVM_SOURCE_DIR "/docker/compose.yaml", "config"});
  ASSERT_EQ(compose.exit_code, 0) << compose.err;
  // docker-compose prints each mapping as "- HOST_IP:PUBLISHED:TARGET/tcp".
  int published = 0, on_loopback = 0;
  for (absl::string_view line : absl::StrSplit(compose.out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::StartsWith(line, "- ") || !(absl::EndsWith(line, "/tcp") || absl::EndsWith(line, "/udp"))) {
      continue;
    }
    ++published;
    if (absl::StartsWith(line, "- 127.0.0.1:")) ++on_loopback;
  }
  EXPECT_EQ(published, 4) << compose.out;
  EXPECT_EQ(on_loopback, published) << compose.out;
  EXPECT_FALSE(absl::StrContains(compose.out, "admin/admin"));
  EXPECT_TRUE(absl::StrContains(compose.out, "GF_SECURITY_ADMIN_PASSWORD__FILE"));

  // docker/up makes the password once (0600), prints it once.
  testing::ScratchDir dir;
  ASSERT_EQ(Exec({"cp", "-r", IOMMUVM_SOURCE_DIR "/docker", dir.path()}).exit_code, 0);
  ASSERT_EQ(Exec({"rm", "-rf", dir / "docker/secrets"}).exit_code, 0);
  CommandSpec up;
  up.argv = {dir / "docker/up"};
  up.env = {"IOMMUVM_SECRETS_ONLY=1"};
  up.timeout = absl::Seconds(30);
  CommandResult first = *LocalCommandRunner().Run(up);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::string password = LocalFileSystem().ReadFile(dir / "docker/secrets/grafana-admin-password").value_or("");
  password = std::string(absl::StripAsciiWhitespace(password));
  EXPECT_GE(password.size(), 16u);
  EXPECT_TRUE(absl::StrContains(first.out, password));
  struct stat st {};
  ASSERT_EQ(stat((dir / "docker/secrets/grafana-admin-password").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  CommandResult second = *LocalCommandRunner().Run(up);
  EXPECT_EQ(second.exit_code, 0);
  EXPECT_FALSE(absl::StrContains(second.out, password));
}

TEST(DockerTest, EveryPackageExistsInDebian12) {
  auto stages = InstalledPackages();
  ASSERT_EQ(stages.size(), 2u);  // build and runtime
  for (const auto& stage : stages) {
    std::vector<std::string> argv = {"apt-cache", "show", "--no-all-versions"};
    argv.insert(argv.end(), stage.begin(), stage.end());
    CommandResult r = Exec(argv);
    for (const std::string& p : stage) {
      EXPECT_TRUE(absl::StrContains(r.out, "Package: " + p + "\n"))
          << p << " is not in the archive: " << r.err;
    }
  }
}

TEST(DockerTest, RuntimePackagesProvideEveryLibraryTheBinariesLoad) {
  auto stages = InstalledPackages();
  ASSERT_EQ(stages.size(), 2u);
  std::vector<std::string> argv = {"apt-cache", "depends", "--recurse", "--no-recommends",
                                   "--no-suggests", "--no-conflicts", "--no-breaks",
                                   "--no-replaces", "--no-enhances"};
  argv.insert(argv.end(), stages[1].begin(), stages[1].end());
  CommandResult closure = Exec(argv);
  std::set<std::string> provided(stages[1].begin(), stages[1].end());
  for (absl::string_view line : absl::StrSplit(closure.out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumePrefix(&line, "Depends: ");
    absl::ConsumePrefix(&line, "PreDepends: ");
    if (!line.empty() && line[0] != '<') provided.insert(std::string(line));
  }
  // Every library the binaries load, once.
  std::map<std::string, std::string> loaded_by;  // library -> a binary loading it
  for (const char* bin : {IOMMUVM_CONTROLLER_BIN, IOMMUVM_AGENT_BIN, IOMMUVM_CLI_BIN}) {
    CommandResult ldd = Exec({"ldd", bin});
    for (absl::string_view line : absl::StrSplit(ldd.out, '\n')) {
      size_t arrow = line.find("=> /");
      if (arrow == absl::string_view::npos) continue;
      loaded_by.emplace(line.substr(arrow + 3, line.find(' ', arrow + 3) - arrow - 3), bin);
    }
  }
  ASSERT_FALSE(loaded_by.empty());
  // Their packages: dpkg knows a file under the path its package shipped
  // it at, /lib/... or /usr/lib/... with merged /usr.
  std::map<std::string, std::string> owner;  // library -> package
  auto own = [&](const std::map<std::string, std::string>& as) {
    std::vector<std::string> argv = {"dpkg", "-S"};
    for (const auto& [path, lib] : as) argv.push_back(path);
    for (absl::string_view line : absl::StrSplit(Exec(argv).out, '\n')) {
      size_t colon = line.find(": ");
      if (colon == absl::string_view::npos) continue;
      auto it = as.find(std::string(line.substr(colon + 2)));
      // "libabsl20220623:amd64: /lib/..." -> libabsl20220623
      absl::string_view package = line.substr(0, colon);
      package = package.substr(0, package.find(':'));
      if (it != as.end()) owner[it->second] = std::string(package);
    }
  };
  std::map<std::string, std::string> as_loaded, as_real;
  for (const auto& [lib, bin] : loaded_by) as_loaded[lib] = lib;
  own(as_loaded);
  for (const auto& [lib, bin] : loaded_by) {
    if (owner.count(lib)) continue;
    std::error_code ec;
    as_real[std::filesystem::canonical(lib, ec).string()] = lib;
  }
  if (!as_real.empty()) own(as_real);
  // Required packages are in every debian:12 image.
  std::vector<std::string> query = {"dpkg-query", "-W", "-f=${Package} ${Priority}\n"};
  for (const auto& [lib, package] : owner) query.push_back(package);
  std::set<std::string> required;
  for (absl::string_view line : absl::StrSplit(Exec(query).out, '\n')) {
    if (absl::EndsWith(line, " required")) required.insert(std::string(line.substr(0, line.find(' '))));
  }
  for (const auto& [lib, bin] : loaded_by) {
    ASSERT_TRUE(owner.count(lib)) << "no package owns " << lib;
    const std::string& package = owner[lib];
    if (required.count(package)) continue;
    EXPECT_TRUE(provided.count(package))
        << bin << " loads " << lib << " from " << package
        << ", which the runtime stage does not install";
  }
}

}  // namespace
}  // namespace iommuvm
