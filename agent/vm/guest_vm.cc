#include "agent/vm/guest_vm.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/node/numa_cpus.h"
#include "agent/vm/initrd_overlay.h"
#include "agent/vm/libvirt_domain.h"
#include "agent/vm/libvirt_vm.h"
#include "agent/vm/qmp_client.h"
#include "agent/vm/vcpu_pinning.h"
#include "common/log.h"
#include "common/shell_quote.h"
#include "tls/certificate_authority.h"
#include "tls/credentials.h"

namespace iommuvm::agent {
namespace {

// What the guest agent logs once the controller has taken its registration.
constexpr char kConnectedMarker[] = "connected to controller";
// What the image's init prints when the agent ends (it then powers off).
constexpr char kAgentEndedMarker[] = "IOMMUVM-GUEST-AGENT-ENDED";

// Locally administered MACs, unique per attempt on this host.
std::string Mac(int kind, int64_t attempt_id) {
  return absl::StrFormat("52:54:%02x:%02x:%02x:%02x", kind, (attempt_id >> 16) & 0xff,
                         (attempt_id >> 8) & 0xff, attempt_id & 0xff);
}

}  // namespace

std::string GuestControllerAddress(const std::string& host_view) {
  std::pair<std::string, std::string> hp = absl::StrSplit(host_view, absl::MaxSplits(':', 1));
  if (hp.first == "127.0.0.1" || hp.first == "localhost" || hp.first == "0.0.0.0") {
    return absl::StrCat("10.0.2.2:", hp.second);
  }
  return host_view;
}

std::string GuestAgentParams(const GuestHost& host, const std::string& guest_id,
                             const std::string& data_mac, const std::string& control_mac) {
  std::string params = absl::StrCat(
      "iommuvm.controller=", GuestControllerAddress(host.controller_address),
      " iommuvm.id=", guest_id, " iommuvm.parent=", host.host_id, " iommuvm.addr=",
      host.guest_address, " iommuvm.data_mac=", data_mac, " iommuvm.ctl_mac=", control_mac);
  if (!host.gateway.empty()) absl::StrAppend(&params, " iommuvm.gw=", host.gateway);
  // The guest dials 10.0.2.2 for a controller on the host's loopback; the
  // controller's certificate names the address the host dials.
  if (!host.tls_dir.empty()) {
    absl::StrAppend(&params, " iommuvm.tls_name=",
                    host.controller_address.substr(0, host.controller_address.rfind(':')));
  }
  return params;
}

absl::StatusOr<std::string> InitrdWithCertificate(FileSystem* files, const GuestHost& host,
                                                  const std::string& initrd,
                                                  const std::string& run_dir) {
  std::string stem = tls::FileStem(tls::PeerKind::kAgent, host.host_id);
  auto tls_files = tls::LoadTlsFiles(*files, host.tls_dir, stem);
  if (!tls_files.ok()) return tls_files.status();
  auto image = files->ReadFile(initrd);
  if (!image.ok()) return image.status();
  std::string combined =
      CpioArchive({{"/etc/iommuvm/tls/ca.crt", tls_files->ca_pem, 0644},
                   {"/etc/iommuvm/tls/" + stem + ".crt", tls_files->cert_pem, 0644},
                   {"/etc/iommuvm/tls/" + stem + ".key", tls_files->key_pem, 0600}});
  combined.append(*image);
  std::string path = run_dir + "/initrd-tls.cpio";
  if (auto s = files->WriteFile(path, combined); !s.ok()) return s;
  // It holds the agent's private key.
  ::chmod(files->HostPath(path).c_str(), 0600);
  return path;
}

absl::Status GuestVm::AttachTap(QemuVm& qemu, const std::string& tap, const std::string& bridge,
                                absl::Duration timeout) {
  // QEMU creates the tap while it starts.
  absl::Time deadline = clock_->Now() + timeout;
  while (!files_->Exists(absl::StrCat("/sys/class/net/", tap))) {
    if (!qemu.Running()) {
      // QEMU's exit and its own words: why the guest cannot start.
      auto ended = qemu.WaitForConsole(kConnectedMarker, absl::ZeroDuration());
      return absl::UnavailableError(ended.ok() ? "QEMU ended" : ended.status().message());
    }
    if (clock_->Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat("QEMU did not create the guest's tap ", tap, " (see qemu.log)"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  CommandSpec spec;
  spec.argv = {"ip", "link", "set", tap, "master", bridge, "up"};
  spec.timeout = absl::Seconds(10);
  auto r = runner_->Run(spec);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot put the guest's tap ", tap, " on bridge ", bridge, ": ", r->Describe("ip"),
        " (does the bridge exist? the agent's --vm_bridge)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GuestVm::HugepagesFor(uint64_t memory_bytes) {
  std::string mount;
  for (absl::string_view line : absl::StrSplit(files_->ReadFile("/proc/mounts").value_or(""), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() > 2 && f[2] == "hugetlbfs") {
      mount = std::string(f[1]);
      break;
    }
  }
  if (mount.empty()) {
    return absl::FailedPreconditionError(
        "hugepages: no hugetlbfs is mounted on this node (mount -t hugetlbfs none "
        "/dev/hugepages)");
  }
  uint64_t free_pages = 0, page_kib = 0;
  for (absl::string_view line : absl::StrSplit(files_->ReadFile("/proc/meminfo").value_or(""), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 2) continue;
    if (f[0] == "HugePages_Free:") (void)absl::SimpleAtoi(f[1], &free_pages);
    if (f[0] == "Hugepagesize:") (void)absl::SimpleAtoi(f[1], &page_kib);
  }
  uint64_t need = page_kib == 0 ? 0 : (memory_bytes / 1024 + page_kib - 1) / page_kib;
  if (page_kib == 0 || free_pages < need) {
    return absl::FailedPreconditionError(absl::StrCat(
        "hugepages: the guest needs ", need, " free pages of ", page_kib, " KiB, the node has ",
        free_pages, " (reserve them: echo ", need, " > /proc/sys/vm/nr_hugepages)"));
  }
  return mount;
}

absl::StatusOr<std::string> GuestVm::Pin(const v1::VmConfig& vm, const std::string& data_nic,
                                         const std::string& qmp_socket) {
  auto target = ResolveCpus(*files_, vm.pin(), data_nic);
  if (!target.ok()) return target.status();
  absl::StatusOr<std::string> pinned;
  if (auto* domain = dynamic_cast<LibvirtVm*>(machine_.get())) {
    // libvirt owns the vCPU threads (and their cgroup): pin through it.
    pinned = domain->Pin(std::max<int>(1, static_cast<int>(vm.vcpus())), target->cpus);
  } else {
    auto reply = QmpExecute(qmp_socket, "query-cpus-fast", absl::Seconds(5), clock_);
    if (!reply.ok()) return reply.status();
    auto threads = ParseVcpuThreads(*reply);
    if (!threads.ok()) return threads.status();
    pinned = PinVcpus(runner_, *threads, target->cpus);
  }
  if (!pinned.ok()) return pinned.status();
  return absl::StrCat(*pinned, " (", target->how, ")");
}

void GuestVm::Stop() {
  if (machine_ != nullptr) machine_->Stop();
  if (vf_ && vfio_ != nullptr) {
    absl::Status s = vfio_->ReleaseVf(*vf_);
    if (!s.ok()) Log("agent", "cannot give VF ", vf_->bdf, " back: ", s.message());
  }
  vf_.reset();
}

absl::Status GuestVm::AssignVf(const GuestHost& host, const std::string& mac, v1::VmConfig* vm,
                               v1::VmOutcome* out) {
  if (host.vfio == nullptr) {
    return absl::FailedPreconditionError("this agent cannot assign devices (no VFIO)");
  }
  vfio_ = host.vfio;
  absl::StatusOr<AssignedVf> vf;
  if (!vm->vf_bdf().empty()) {
    vf = vfio_->AssignGivenVf(vm->vf_bdf());
  } else {
    vf = vfio_->AssignVf(host.data_nic, mac, runner_);
  }
  if (!vf.ok()) return vf.status();
  vf_ = *vf;
  vm->set_vf_bdf(vf->bdf);
  out->set_vf(vf->bdf);
  out->set_vf_group(vf->iommu_group);
  out->set_vf_pf(vf->pf);
  out->clear_tap();
  return absl::OkStatus();
}

absl::Status GuestVm::StartQemu(const v1::LaunchVm& launch, v1::VmConfig vm, QemuLaunch q,
                                const GuestHost& host, const std::string& run_dir,
                                v1::VmOutcome* out) {
  CommandSpec version;
  version.argv = {q.qemu_binary, "--version"};
  version.timeout = absl::Seconds(10);
  auto v = runner_->Run(version);
  if (!v.ok() || !v->ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", q.qemu_binary, ": ",
                     v.ok() ? v->Describe(q.qemu_binary) : std::string(v.status().message()),
                     " (install qemu-system-x86, or set the agent's --qemu_binary)"));
  }
  out->set_qemu_version(v->out.substr(0, v->out.find('\n')));
  auto qemu = std::make_unique<QemuVm>(runner_, files_, clock_);
  absl::Status s = qemu->Start(vm, q, run_dir);
  if (!s.ok()) return s;
  QemuVm& started = *qemu;
  machine_ = std::move(qemu);
  if (out->tap().empty()) return absl::OkStatus();  // an assigned VF: no tap
  // QEMU creates the tap while it starts; the host puts it on the bridge.
  if (s = AttachTap(started, out->tap(), host.bridge, absl::Seconds(10)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("guest ", launch.guest_id(), ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status GuestVm::StartLibvirt(const v1::LaunchVm& launch, const v1::VmConfig& vm,
                                   const QemuLaunch& q, const GuestHost& host, int64_t attempt_id,
                                   const std::string& run_dir, v1::VmOutcome* out) {
  LibvirtLaunch l;
  l.name = DomainName(host.host_id, attempt_id);
  l.accel = q.accel;
  // libvirt wants the emulator's absolute path; a bare name is its default.
  if (absl::StartsWith(q.qemu_binary, "/")) l.emulator = q.qemu_binary;
  l.console_path = run_dir + "/console.log";
  l.bridge = host.bridge;
  l.tap = out->tap();
  l.data_mac = q.data_mac;
  l.control_mac = q.control_mac;
  l.extra_append = q.extra_append;
  absl::StatusOr<std::string> xml;
  if (vm.libvirt_xml().empty()) {
    xml = GeneratedDomainXml(vm, l);
  } else {
    auto text = files_->ReadFile(vm.libvirt_xml());
    if (!text.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read the libvirt domain template ", vm.libvirt_xml(), " (vms.", vm.name(),
          ".libvirt_xml is a path on the server node): ", text.status().message()));
    }
    xml = DomainFromTemplate(*text, vm.libvirt_xml(), vm, l);
    // The template names its own data NIC (and its tap, if any).
    out->clear_tap();
  }
  if (!xml.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("guest ", launch.guest_id(), ": ", xml.status().message()));
  }
  auto domain = std::make_unique<LibvirtVm>(runner_, files_, clock_, host.libvirt_uri);
  auto version = domain->HypervisorVersion();
  if (!version.ok()) return version.status();
  out->set_qemu_version(*version);
  absl::Status s = domain->Start(l.name, *xml, l.console_path, run_dir);
  machine_ = std::move(domain);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("guest ", launch.guest_id(),
                                                      ": libvirt refused domain ", l.name, " (",
                                                      run_dir, "/domain.xml): ", s.message()));
  }
  out->set_libvirt_domain(l.name);
  return absl::OkStatus();
}

absl::StatusOr<v1::VmOutcome> GuestVm::Launch(const v1::LaunchVm& launch, const GuestHost& host,
                                              int64_t attempt_id, const std::string& run_dir,
                                              absl::Duration timeout,
                                              const std::atomic<bool>* cancel) {
  Stop();
  v1::VmConfig vm = launch.vm();
  bool vf = vm.nic() == "vfio-vf";
  // An assigned VF sits on the data network itself; a virtio NIC's tap
  // joins the host's bridge.
  if ((!vf && host.bridge.empty()) || host.guest_address.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "agent ", host.host_id,
        " has no data-plane bridge for guests: start it with --vm_bridge BRIDGE and "
        "--vm_guest_address ADDR/PREFIX (the guest's data address on that bridge, or on the "
        "data network for an assigned VF)"));
  }
  bool libvirt = vm.backend() == "libvirt" || !vm.libvirt_xml().empty();
  if (vm.kernel().empty()) {
    vm.set_kernel(host.guest_dir + "/vmlinuz");
    if (vm.initrd().empty()) vm.set_initrd(host.guest_dir + "/initrd.cpio");
  }
  for (const std::string& path : {vm.kernel(), vm.initrd()}) {
    if (!path.empty() && !files_->Exists(path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "guest image ", path, " does not exist (scripts/guest-image builds one; the agent's "
          "--guest_dir or the spec's vms.<name>.kernel/initrd say where)"));
    }
  }
  if (!host.tls_dir.empty() && !vm.initrd().empty()) {
    auto initrd = InitrdWithCertificate(files_, host, vm.initrd(), run_dir);
    if (!initrd.ok()) {
      return absl::Status(initrd.status().code(), absl::StrCat("guest ", launch.guest_id(), ": ",
                                                               initrd.status().message()));
    }
    vm.set_initrd(*initrd);
  }
  QemuLaunch q;
  if (vm.hugepages()) {
    auto pages = HugepagesFor(vm.memory_bytes());
    if (!pages.ok()) {
      return absl::Status(pages.status().code(),
                          absl::StrCat("guest ", launch.guest_id(), ": ", pages.status().message()));
    }
    q.hugetlbfs = *pages;
  }
  q.accel = vm.accel().empty() ? "kvm" : vm.accel();
  q.qemu_binary = vm.qemu_binary().empty() ? host.qemu_binary : vm.qemu_binary();
  std::string tap = absl::StrCat("ivmt", attempt_id);
  q.data_netdev = absl::StrCat("tap,id=data,ifname=", tap, ",script=no,downscript=no");
  // Under KVM the data path is the testbed's: vhost-net moves the packets
  // in the host kernel (its workers are the vhost_cpu_cores telemetry).
  // TCG has no ioeventfd/irqfd for it.
  if (q.accel == "kvm" && files_->Exists("/dev/vhost-net"))
    absl::StrAppend(&q.data_netdev, ",vhost=on");
  q.data_mac = Mac(0xa0, attempt_id);
  q.control_mac = Mac(0xc0, attempt_id);
  q.qmp_socket = run_dir + "/qmp.sock";
  q.extra_append = GuestAgentParams(host, launch.guest_id(), q.data_mac, q.control_mac);

  v1::VmOutcome out;
  out.set_guest_id(launch.guest_id());
  out.set_accel(q.accel);
  out.set_tap(tap);
  out.set_guest_address(host.guest_address.substr(0, host.guest_address.find('/')));
  out.set_backend(libvirt ? "libvirt" : "qemu");
  if (vf) {
    if (absl::Status s = AssignVf(host, q.data_mac, &vm, &out); !s.ok()) {
      Stop();
      return absl::Status(s.code(), absl::StrCat("guest ", launch.guest_id(), ": ", s.message()));
    }
  }

  absl::Time started = clock_->Now();
  absl::Status s = libvirt ? StartLibvirt(launch, vm, q, host, attempt_id, run_dir, &out)
                           : StartQemu(launch, vm, q, host, run_dir, &out);
  if (machine_ != nullptr) {
    std::vector<std::string> quoted;
    for (const std::string& a : machine_->QemuArgv()) quoted.push_back(ShellQuote(a));
    out.set_qemu_argv(absl::StrJoin(quoted, " "));
  }
  if (!s.ok()) {
    Stop();
    return s;
  }
  // Wait in short slices so a cancel is seen; the guest ending its agent
  // (it powers off) ends the wait at once.
  absl::Time deadline = started + timeout;
  while (true) {
    auto seen = machine_->WaitForConsole(kConnectedMarker, absl::Seconds(1));
    if (seen.ok()) break;
    std::string console = machine_->Console();
    bool ended = absl::StrContains(console, kAgentEndedMarker);
    if (!absl::IsDeadlineExceeded(seen.status()) || ended || clock_->Now() >= deadline ||
        (cancel != nullptr && cancel->load())) {
      // A guest that does not come up (QEMU ended, the kernel panicked,
      // the agent never connected) may pass: transient, with the console.
      absl::Status why = absl::UnavailableError(
          absl::StrCat("guest ", launch.guest_id(), ": ", seen.status().message()));
      if (cancel != nullptr && cancel->load()) {
        why = absl::CancelledError("cancelled while the guest booted");
      } else if (absl::IsDeadlineExceeded(seen.status()) || ended) {
        // The console's tail says how far the guest came.
        auto tail = machine_->WaitForConsole(kConnectedMarker, absl::ZeroDuration());
        std::string text = tail.ok() ? "" : std::string(tail.status().message());
        why = absl::UnavailableError(absl::StrCat(
            "guest ", launch.guest_id(),
            ended ? "'s agent ended before it connected to the controller"
                  : absl::StrCat(" did not connect to the controller within ",
                                 absl::FormatDuration(timeout)),
            " (", q.accel, "); ", text));
      }
      Stop();
      return why;
    }
  }
  out.set_boot_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(clock_->Now() - started)));
  if (!vm.pin().empty()) {
    auto pinned = Pin(vm, host.data_nic, q.qmp_socket);
    if (!pinned.ok()) {
      Stop();
      return absl::Status(pinned.status().code(),
                          absl::StrCat("guest ", launch.guest_id(), ": ", pinned.status().message()));
    }
    out.set_pinning(*pinned);
  }
  return out;
}

}  // namespace iommuvm::agent
