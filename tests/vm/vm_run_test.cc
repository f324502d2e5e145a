// VM runs end to end: a controller, a server agent in the "sut" namespace
// with a bridge for its guests, a client agent in the "client" namespace.
// The server agent boots a real guest (Debian's kernel under QEMU/TCG with
// an emulated VT-d), whose own agent registers as "sut/<vm>", serves the
// run, and is verified by its own probe; the load crosses the data plane
// into the guest. Afterwards nothing is left: no QEMU, no tap.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/support/private_libvirtd.h"
#include "tests/support/process_harness.h"
#include "tests/support/topology.h"
#include "yaml-cpp/yaml.h"

namespace iommuvm::testing {
namespace {

std::string VmTcgSpec(const std::string& vms, const std::string& workloads, uint64_t requests,
                      int repetitions = 1) {
  return absl::StrReplaceAll(
      SourceFile("experiments/vm-tcg.yaml"),
      {{"vm: [vm-pt, vm-lazy, vm-strict, vm-none]", absl::StrCat("vm: [", vms, "]")},
       {"workload: [redis, memcached, nginx]", absl::StrCat("workload: [", workloads, "]")},
       {"repetitions: 3", absl::StrCat("repetitions: ", repetitions)},
       {"requests: 20000", absl::StrCat("requests: ", requests)}});
}

CommandResult Shell(const std::string& cmd) {
  CommandSpec spec;
  spec.argv = {"sh", "-c", cmd};
  return LocalCommandRunner().Run(spec).value_or(CommandResult{});
}

// Lines `cmd` prints (-1 when it cannot run).
int CountLines(const std::string& cmd) {
  CommandResult r = Shell(cmd);
  if (r.exit_code < 0) return -1;
  return static_cast<int>(std::count(r.out.begin(), r.out.end(), '\n'));
}

class VmRunTest : public ::testing::Test {
 protected:
  Daemon StartSut() {
    std::vector<std::string> args = {
        "--data_address",     net_->sut_address(),   "--vm_bridge",
        net_->guest_bridge(), "--vm_guest_address",  net_->guest_address() + "/24",
        "--vm_gateway",       net_->guest_gateway(), "--guest_dir",
        IOMMUVM_GUEST_DIR,    "--libvirt_uri",       libvirt_uri_};
    args.insert(args.end(), sut_extra_.begin(), sut_extra_.end());
    return h_->StartAgent("sut", "server", {}, args, net_->In(net_->sut_ns()));
  }

  // Before the agents start (a libvirtd for them, say).
  virtual void BeforeAgents() {}

  // Submits `spec` and returns once the guest serves its first run.
  CommandResult SubmitAndWaitForRunning(const std::string& spec) {
    CommandResult r = h_->Cli({"submit", h_->WriteFile("vm.yaml", spec)});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(h_->WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'RUNNING'", 1,
                                 absl::Minutes(2)))
        << sut_.Log();
    return r;
  }

  bool WaitUntilClean() {
    for (int i = 0; i < 100; ++i) {
      if (Leftovers() == 0) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(IOMMUVM_GUEST_DIR "/initrd.cpio"))
        << "no guest image in " IOMMUVM_GUEST_DIR " (scripts/test builds it)";
    static int test_number = 0;  // each test its own namespaces
    net_ = std::make_unique<Topology>(absl::StrCat("iv", ::getpid() % 10000, "-", ++test_number));
    if (absl::IsFailedPrecondition(net_->status())) GTEST_SKIP() << net_->status();
    ASSERT_TRUE(net_->status().ok()) << net_->status();
    absl::Status bridged = net_->AddGuestBridge();
    ASSERT_TRUE(bridged.ok()) << bridged;
    h_ = std::make_unique<Harness>(net_->controller_host());
    // As on a testbed: mutual TLS; each guest registers with its host's
    // certificate, which the host puts in the guest's initramfs.
    ASSERT_NO_FATAL_FAILURE(h_->UseTls());
    BeforeAgents();
    if (HasFatalFailure() || IsSkipped()) return;
    controller_ = h_->StartController({"--agent_grace=5s"});
    ASSERT_TRUE(controller_.WaitForLog("listening on", absl::Seconds(10))) << controller_.Log();
    sut_ = StartSut();
    client_ = h_->StartAgent("client", "client", {}, {"--data_address", net_->client_address()},
                             net_->In(net_->client_ns()));
    ASSERT_TRUE(h_->WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(15)))
        << sut_.Log() << client_.Log();
  }

  // A pgrep pattern for this test's guest's QEMU: its QMP socket is in the
  // agent's guest directory. The first character in brackets keeps the
  // pattern from matching itself.
  std::string Qemu() {
    std::string path = h_->dir() / "agent-sut/runs/guest/qmp.sock";
    return absl::StrCat("[", path.substr(0, 1), "]", path.substr(1));
  }

  // QEMU processes and tap devices this test's guests could have left.
  int Leftovers() {
    return CountLines(absl::StrCat("pgrep -f '", Qemu(), "' || true")) +
           CountLines(absl::StrCat("ip -n ", net_->sut_ns(), " -o link show type tun || true"));
  }

  std::unique_ptr<Topology> net_;
  std::unique_ptr<Harness> h_;
  Daemon controller_, sut_, client_;
  std::string libvirt_uri_ = "qemu:///system";
  std::vector<std::string> sut_extra_;  // more flags for the server's agent
};

// Two repetitions: the guest boots once and serves both, its vCPU pinned.
TEST_F(VmRunTest, AStrictGuestServesRedisAndIsVerifiedFromInside) {
  std::string spec = absl::StrReplaceAll(VmTcgSpec("vm-strict", "redis", 10000, /*repetitions=*/2),
                                         {{"    guest_iommu: strict\n",
                                           "    guest_iommu: strict\n    pin: \"0\"\n"}});
  CommandResult r = h_->Cli({"submit", h_->WriteFile("vm.yaml", spec), "--wait"}, absl::Minutes(6));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << sut_.Log() << client_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);
  ASSERT_EQ(h_->Count("SELECT COUNT(*) FROM attempts"), 2)
      << h_->Cli({"status", "1", "--format", "json"}).out << sut_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.reused' AND "
                      "value = 'true'"),
            1);
  EXPECT_NE(sut_.Log().find("serves it too"), std::string::npos) << sut_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.pinning' AND "
                      "value = 'vcpu0=cpu0 (as listed)'"),
            2);
  // The host reported what its QEMU offers (Debian's 7.2: scalable mode,
  // no x-flts, so no nested translation here).
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sut' AND inventory "
                      "LIKE '%intel-iommu.x-scalable-mode%' AND inventory NOT LIKE "
                      "'%x-flts%'"),
            1);
  // The guest registered as its own node, and its probe is the run's mode.
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sut/vm-strict'"), 1);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'verify.detected' AND "
                      "value = 'strict'"),
            2);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.accel' AND "
                      "value = 'tcg'"),
            2);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM run_results"), 2);
  // The guest's server telemetry arrived from the guest.
  EXPECT_GT(h_->Count("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut/vm-strict' AND "
                      "name = 'server_requests_per_second'"),
            0);
  // The IOMMU work per request, counted at the guest kernel's tracepoints:
  // a strict guest maps, unmaps and invalidates for every packet.
  for (const char* metric : {"iommu_maps_per_second", "iommu_unmaps_per_second",
                             "iommu_invalidations_per_second"}) {
    EXPECT_GT(h_->Count(absl::StrCat("SELECT COUNT(*) FROM metric_samples WHERE agent_id = "
                                     "'sut/vm-strict' AND name = '",
                                     metric, "' AND value > 0")),
              0)
        << metric;
  }
  // The host's side: its guest's QEMU threads, busy emulating the vCPU.
  EXPECT_GT(h_->Count("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut' AND "
                      "name = 'qemu_vcpu_cpu_cores' AND value > 0.1"),
            0)
      << h_->Cli({"query", "--db", h_->db_path(),
                  "SELECT agent_id, name, COUNT(*), MAX(value) FROM metric_samples GROUP BY 1, 2"})
             .out;
  EXPECT_GT(h_->Count("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut' AND "
                      "name = 'qemu_emulator_cpu_cores'"),
            0);
  EXPECT_GT(h_->Count("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut' AND "
                      "name = 'qemu_cpu_cores' AND value > 0.1"),
            0);
  CommandResult compare = h_->Cli({"compare", "1", "--format", "csv"});
  EXPECT_NE(compare.out.find("redis,\"intel cm=off ir=on iotlb=off aw=48, virtio, 1 vcpu, 1024 MiB, "
                             "tcg, host "),
            std::string::npos)
      << compare.out << compare.err;
  // The guest is stopped after the run: no QEMU, no tap.
  EXPECT_TRUE(WaitUntilClean()) << sut_.Log();
  EXPECT_TRUE(sut_.WaitForLog("guest sut/vm-strict (last used by attempt 2) stopped",
                              absl::Seconds(10)))
      << sut_.Log();
  // The stopped guest is shown as such, not as an outage.
  std::string agents;
  for (int i = 0; i < 50; ++i) {
    agents = h_->Cli({"agents", "--format", "csv"}).out;
    if (agents.find("sut/vm-strict,server,STOPPED") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_NE(agents.find("sut/vm-strict,server,STOPPED"), std::string::npos) << agents;
  // The image's drivers loaded in Debian's kernel: virtio-net, and
  // mlx5_core for a ConnectX VF (nic: vfio-vf on a testbed).
  CommandResult console = h_->Cli({"artifacts", "1", "1", "guest-console.log"});
  EXPECT_NE(console.out.find("mlx5_core"), std::string::npos) << console.out.substr(0, 2000);
  EXPECT_NE(console.out.find("virtio_net"), std::string::npos);
  // The guest's agent set its clock by the controller's (a guest has no
  // NTP): its samples line up with the client's load window.
  EXPECT_TRUE(absl::StrContains(console.out, " to the controller's") ||
              absl::StrContains(console.out, "clock: within "))
      << console.out.substr(0, 4000);
  if (size_t at = console.out.find("agent: clock: "); at != std::string::npos) {
    std::cout << "guest " << console.out.substr(at, console.out.find('\n', at) - at) << "\n";
  }
}

// hugetlbfs mounted before the agents start: each runs in a network
// namespace's own copy of the mounts (`ip netns exec`), taken at its start,
// and a host without systemd has none mounted.
class VmHugepagesTest : public VmRunTest {
 protected:
  void BeforeAgents() override {
    if (!Shell("grep -q hugetlbfs /proc/mounts || (mkdir -p /dev/hugepages && mount -t "
               "hugetlbfs none /dev/hugepages)")
             .ok()) {
      GTEST_SKIP() << "cannot mount hugetlbfs here";
    }
  }
};

// Hugepage-backed guest memory: refused with how many pages to reserve
// while the node has none, used once they are reserved.
TEST_F(VmHugepagesTest, HugepagesAreUsedWhenReservedAndAskedForOtherwise) {
  auto sh = [](const std::string& cmd) { return Shell(cmd).ok(); };
  ASSERT_TRUE(sh("echo 0 > /proc/sys/vm/nr_hugepages"));
  std::string spec = absl::StrReplaceAll(
      VmTcgSpec("vm-strict", "redis", 10000),
      {{"    guest_iommu: strict\n", "    guest_iommu: strict\n    hugepages: true\n"}});
  CommandResult refused =
      h_->Cli({"submit", h_->WriteFile("vm.yaml", spec), "--wait"}, absl::Minutes(3));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(h_->Cli({"status", "1", "--format", "json"})
                .out.find("hugepages: the guest needs 512 free pages of 2048 KiB, the node has 0"),
            std::string::npos);
  if (!sh("echo 600 > /proc/sys/vm/nr_hugepages && grep -q 'HugePages_Total: *600' /proc/meminfo")) {
    GTEST_SKIP() << "cannot reserve 600 hugepages here";
  }
  CommandResult r = h_->Cli({"submit", h_->WriteFile("vm.yaml", spec), "--wait"}, absl::Minutes(3));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sut_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.qemu_argv' AND value "
                      "LIKE '%memory-backend-file,id=mem,size=1024M,mem-path=%prealloc=on%'"),
            1);
  EXPECT_TRUE(WaitUntilClean()) << sut_.Log();
  sh("echo 0 > /proc/sys/vm/nr_hugepages");
}

// A guest that never comes up (here: its kernel image is not a kernel, so
// QEMU gives up at once) fails its attempt as transient (retried), with
// QEMU's words and the console in the error; no QEMU stays.
TEST_F(VmRunTest, AGuestThatNeverBootsFailsWithItsConsoleAndLeavesNothing) {
  std::string kernel = h_->WriteFile("not-a-kernel", std::string(4096, 'x'));
  std::string spec = absl::StrReplaceAll(
      VmTcgSpec("vm-strict", "redis", 3000),
      {{"    guest_iommu: strict\n",
        absl::StrCat("    guest_iommu: strict\n    kernel: ", kernel,
                     "\n    initrd: " IOMMUVM_GUEST_DIR "/initrd.cpio\n")}});
  CommandResult r = h_->Cli({"submit", h_->WriteFile("vm.yaml", spec), "--wait"}, absl::Minutes(3));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempts WHERE state = 'FAILED'"), 2);  // retried
  CommandResult status = h_->Cli({"status", "1", "--format", "json"});
  EXPECT_NE(status.out.find("guest sut/vm-strict: qemu exited"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("; qemu: "), std::string::npos) << status.out;  // its own words
  EXPECT_NE(status.out.find("no retries left"), std::string::npos) << status.out;
  EXPECT_TRUE(WaitUntilClean()) << sut_.Log();
}

// QEMU killed mid-load: the load fails or the guest falls silent, the
// attempt is retried in a fresh guest and the run still succeeds.
TEST_F(VmRunTest, QemuKilledMidRunIsRetriedInAFreshGuest) {
  SubmitAndWaitForRunning(VmTcgSpec("vm-strict", "redis", 60000));
  ASSERT_EQ(CountLines(absl::StrCat("pkill -9 -e -f '", Qemu(), "' || true")), 1)
      << sut_.Log();
  ASSERT_TRUE(h_->WaitForCount("SELECT COUNT(*) FROM experiments WHERE state IN ('SUCCEEDED', "
                               "'FAILED')",
                               1, absl::Minutes(5)))
      << sut_.Log() << controller_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 1) << sut_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempts"), 2);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM run_results"), 1);
  EXPECT_TRUE(WaitUntilClean()) << sut_.Log();
}

// The host's agent killed while its guest serves: QEMU dies with it (the
// parent-death signal; a QEMU that escaped would be killed by the agent's
// next life, its working directory being the run's), the attempt is lost
// and retried in a fresh guest.
TEST_F(VmRunTest, AHostAgentKilledWhileItsGuestServesIsRetriedInAFreshGuest) {
  SubmitAndWaitForRunning(VmTcgSpec("vm-strict", "redis", 60000));
  ::kill(sut_.process->pid(), SIGKILL);
  sut_ = StartSut();
  ASSERT_TRUE(h_->WaitForCount("SELECT COUNT(*) FROM experiments WHERE state IN ('SUCCEEDED', "
                               "'FAILED')",
                               1, absl::Minutes(5)))
      << sut_.Log() << controller_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 1) << sut_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM run_results"), 1);
  EXPECT_TRUE(WaitUntilClean()) << sut_.Log();
}

// backend: libvirt, against a libvirtd of the test's own in the server's
// namespace (where the guest bridge is).
class LibvirtRunTest : public VmRunTest {
 protected:
  void BeforeAgents() override {
    libvirtd_ = std::make_unique<PrivateLibvirtd>(h_->dir() / "libvirt", net_->In(net_->sut_ns()));
    if (absl::IsFailedPrecondition(libvirtd_->status())) GTEST_SKIP() << libvirtd_->status();
    ASSERT_TRUE(libvirtd_->status().ok()) << libvirtd_->status();
    libvirt_uri_ = libvirtd_->uri();
  }
  void TearDown() override {
    if (sut_.process) sut_.process->Stop(absl::Seconds(5));
    libvirtd_.reset();
  }

  // Domains defined (running or not) and tap devices left in the sut.
  int LibvirtLeftovers() {
    std::string domains = libvirtd_->Virsh({"list", "--all", "--name"});
    return static_cast<int>(std::count(domains.begin(), domains.end(), '\n')) +
           CountLines(absl::StrCat("ip -n ", net_->sut_ns(), " -o link show type tun || true"));
  }
  bool WaitUntilNoDomain() {
    for (int i = 0; i < 100; ++i) {
      if (LibvirtLeftovers() == 0) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  std::unique_ptr<PrivateLibvirtd> libvirtd_;
};

// A domain iommuvm generates from the spec: defined, started, pinned
// through libvirt, serving two repetitions in one boot, verified from
// inside, then destroyed and undefined.
TEST_F(LibvirtRunTest, AGeneratedDomainServesAndIsRemovedAfterwards) {
  std::string spec =
      absl::StrReplaceAll(VmTcgSpec("vm-strict", "redis", 10000, /*repetitions=*/2),
                          {{"    guest_iommu: strict\n",
                            "    guest_iommu: strict\n    backend: libvirt\n    pin: \"0\"\n"}});
  CommandResult r = h_->Cli({"submit", h_->WriteFile("vm.yaml", spec), "--wait"}, absl::Minutes(6));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << sut_.Log() << libvirtd_->Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.backend' AND "
                      "value = 'libvirt'"),
            2);
  // Its agent found the libvirtd it was pointed at.
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sut' AND inventory "
                      "LIKE '%QEMU 7.%'"),
            1);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.reused' AND "
                      "value = 'true'"),
            1);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'verify.detected' AND "
                      "value = 'strict'"),
            2);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.pinning' AND "
                      "value = 'vcpu0=cpu0 (as listed)'"),
            2);
  // libvirt's QEMU, with the vIOMMU libvirt made of <iommu model='intel'>.
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.qemu_argv' AND "
                      "value LIKE '%-device intel-iommu%guest=iommuvm-sut-%'"),
            0);  // libvirt names the guest first
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'vm.qemu_argv' AND "
                      "value LIKE '%guest=iommuvm-sut-%intel-iommu%'"),
            2);
  // libvirt's QEMU is found and watched like iommuvm's own.
  EXPECT_GT(h_->Count("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut' AND "
                      "name = 'qemu_vcpu_cpu_cores' AND value > 0.1"),
            0);
  EXPECT_TRUE(WaitUntilNoDomain()) << sut_.Log() << libvirtd_->Virsh({"list", "--all"});
  // The domain as it ran is kept with the attempt that stopped it.
  CommandResult kept = h_->Cli({"artifacts", "1", "1", "guest-domain.xml"});
  EXPECT_NE(kept.out.find("<iommu model=\"intel\">"), std::string::npos) << kept.out << kept.err;
}

// The user's own domain XML, vIOMMU given to QEMU in <qemu:commandline>
// as older guides do, without kernel or NIC: iommuvm adds the guest image
// and the bridge. The host agent is killed while the guest serves; libvirt
// keeps the domain running, so the agent's next life removes it, and the
// run is retried in a fresh domain.
TEST_F(LibvirtRunTest, AUsersTemplateRunsAndADomainLeftByAKilledAgentIsRemoved) {
  std::string xml = h_->WriteFile(
      "guest.xml", R"(<domain type="kvm" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">
  <name>my-guest</name>
  <uuid>5f0e3c1a-0d8e-4a55-9b1e-1f9c7d1f2a01</uuid>
  <memory unit="MiB">1024</memory>
  <vcpu>1</vcpu>
  <os><type arch="x86_64" machine="q35">hvm</type></os>
  <features><acpi/><ioapic driver="qemu"/></features>
  <cpu mode="maximum"/>
  <devices>
    <serial type="pty"/>
  </devices>
  <qemu:commandline>
    <qemu:arg value="-device"/>
    <qemu:arg value="intel-iommu,intremap=on,caching-mode=off"/>
  </qemu:commandline>
</domain>
)");
  std::string spec = absl::StrReplaceAll(
      VmTcgSpec("vm-strict", "redis", 80000),
      {{"    guest_iommu: strict\n",
        absl::StrCat("    guest_iommu: strict\n    libvirt_xml: ", xml, "\n")}});
  SubmitAndWaitForRunning(spec);
  ASSERT_EQ(LibvirtLeftovers(), 2) << libvirtd_->Virsh({"list", "--all"});  // domain and tap
  ::kill(sut_.process->pid(), SIGKILL);
  sut_ = StartSut();
  ASSERT_TRUE(sut_.WaitForLog("removed libvirt domain iommuvm-sut-1", absl::Seconds(30)))
      << sut_.Log();
  ASSERT_TRUE(
      h_->WaitForCount("SELECT COUNT(*) FROM experiments WHERE state IN ('SUCCEEDED', "
                       "'FAILED')",
                       1, absl::Minutes(5)))
      << sut_.Log() << controller_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 1) << sut_.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM run_results"), 1);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'verify.detected' AND "
                      "value = 'strict'"),
            2);
  // The data NIC really sits behind the template's vIOMMU: the guest maps
  // for it.
  EXPECT_GT(h_->Count("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut/vm-strict' AND "
                      "name = 'iommu_maps_per_second' AND value > 0"),
            0);
  EXPECT_TRUE(WaitUntilNoDomain()) << sut_.Log() << libvirtd_->Virsh({"list", "--all"});
}

// The example studies' VM points, end to end on a simulated server node
// (its host modes generated, its guest real): each spec as written, scaled
// to this machine — one repetition, TCG, a small guest, one server core,
// short loads — and run on the test's pair. Its VF guest is refused at
// submit (the simulated node's data NIC has no SR-IOV); every virtio guest
// point then runs in every host mode and is verified from inside.
class FullStudyTest : public VmRunTest {
 protected:
  void BeforeAgents() override {
    sut_extra_ = {"--simulate_boot",
                  "--sysroot",
                  h_->dir() / "sim-root",
                  "--sim_vendor",
                  vendor_,
                  "--sim_cmdline",
                  vendor_ == "amd" ? "console=ttyS0 iommu.strict=1"
                                   : "console=ttyS0 intel_iommu=on iommu.strict=1"};
  }

  // The study `name`, with only the vms in `vms` and the machine's scale.
  std::string Scaled(const std::string& name, const std::vector<std::string>& vms) {
    YAML::Node spec = YAML::Load(SourceFile("experiments/" + name + ".yaml"));
    spec["repetitions"] = 1;
    YAML::Node vm_axis(YAML::NodeType::Sequence);
    for (const std::string& vm : vms) vm_axis.push_back(vm);
    spec["matrix"]["vm"] = vm_axis;
    YAML::Node excludes(YAML::NodeType::Sequence);
    for (const auto& e : spec["matrix"]["exclude"]) {
      std::string vm = e["vm"].as<std::string>("");
      if (std::find(vms.begin(), vms.end(), vm) != vms.end()) excludes.push_back(e);
    }
    if (excludes.size() > 0) {
      spec["matrix"]["exclude"] = excludes;
    } else {
      spec["matrix"].remove("exclude");
    }
    for (auto w : spec["workloads"]) {
      YAML::Node server = w.second["server"];
      YAML::Node gen = w.second["generator"];
      server["cores"] = "0";
      if (server["max_memory"]) server["max_memory"] = "128MiB";
      for (const char* k : {"io_threads", "threads", "workers"}) {
        if (server[k]) server[k] = 1;
      }
      if (server["connections"]) server["connections"] = 64;
      gen["clients"] = 4;
      gen["threads"] = 1;
      gen["warmup"] = "1s";
      if (gen["requests"]) gen["requests"] = 3000;
      if (gen["duration"]) gen["duration"] = "3s";
      if (gen["keyspace"]) gen["keyspace"] = 1000;
    }
    for (auto vm : spec["vms"]) {
      vm.second["vcpus"] = 1;
      vm.second["memory"] = "1GiB";
      vm.second["accel"] = "tcg";
    }
    YAML::Node pair;
    pair["server"] = "sut";
    pair["client"] = "client";
    YAML::Node nodes;
    nodes["pairs"].push_back(pair);
    spec["nodes"] = nodes;
    YAML::Emitter out;
    out << spec;
    return out.c_str();
  }

  void RunVmPointsOf(const std::string& name) {
    // The VF guest: refused at submit, naming the node and its NIC.
    CommandResult vf =
        h_->Cli({"submit", h_->WriteFile(name + "-vf.yaml", Scaled(name, {"vm-vf-viommu"}))});
    EXPECT_EQ(vf.exit_code, 1) << vf.out << vf.err;
    EXPECT_NE(vf.err.find("vms.vm-vf-viommu.nic: node 'sut' cannot give the guest a VF: its "
                          "data NIC eth0 offers no SR-IOV VFs"),
              std::string::npos)
        << vf.err;
    CommandResult r =
        h_->Cli({"submit", h_->WriteFile(name + ".yaml", Scaled(name, {"vm-virtio"})), "--wait"},
                absl::Minutes(8));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << sut_.Log();
    // 4 host modes x 3 workloads, each verified: the host's simulated mode,
    // the guest's real one (no vIOMMU: off).
    EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 12);
    EXPECT_EQ(h_->Count("SELECT COUNT(DISTINCT value) FROM attempt_evidence WHERE key = "
                        "'host.verify.detected'"),
              4);
    EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'verify.detected' "
                        "AND value = 'off'"),
              12);
    EXPECT_EQ(h_->Count("SELECT COUNT(DISTINCT workload) FROM results"), 3);
    EXPECT_TRUE(WaitUntilClean()) << sut_.Log();
  }

  std::string vendor_ = "intel";  // the simulated server's IOMMU vendor
};

// c6525 nodes are AMD EPYC: the simulated host takes AMD's tokens.
class AmdFullStudyTest : public FullStudyTest {
 protected:
  AmdFullStudyTest() { vendor_ = "amd"; }
};

TEST_F(FullStudyTest, R650FullsVmPointsRunOnASimulatedNode) { RunVmPointsOf("r650-full"); }
TEST_F(AmdFullStudyTest, C6525FullsVmPointsRunOnASimulatedNode) { RunVmPointsOf("c6525-full"); }

}  // namespace
}  // namespace iommuvm::testing
