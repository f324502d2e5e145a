#include "agent/vm_check_command.h"

#include <cstdlib>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/node/iommu_probe.h"
#include "agent/vm/accelerator.h"
#include "agent/vm/guest_capture.h"
#include "agent/vm/guest_report.h"
#include "agent/vm/qemu_vm.h"
#include "common/args.h"
#include "common/clock.h"
#include "common/command_runner.h"
#include "common/file_system.h"
#include "common/table.h"
#include "common/units.h"
#include "iommu/mode_names.h"

namespace iommuvm::agent {
namespace {

constexpr char kUsage[] =
    "usage: iommuvm-agent vm-check [--viommu intel|amd|virtio|none]\n"
    "         [--guest-iommu off|passthrough|lazy|strict|current] [--caching-mode on|off]\n"
    "         [--intremap on|off] [--device-iotlb on|off] [--aw-bits 39|48] [--vcpus N]\n"
    "         [--memory 1GiB] [--guest-dir DIR | --kernel FILE --initrd FILE]\n"
    "         [--accel auto|kvm|tcg] [--run-dir DIR] [--timeout SECONDS] [--format table|json]\n"
    "         [--capture DIR]\n"
    "Boots a guest with the emulated IOMMU described (q35, virtio-net behind it) and prints\n"
    "the mode the guest actually runs, as the agent's probe sees it from inside the guest:\n"
    "e.g. lazy with intel caching mode runs strict. Defaults: --viommu intel --guest-iommu\n"
    "strict --caching-mode on --intremap on, 2 vCPUs, 1GiB, the guest image in --guest-dir\n"
    "(default $IOMMUVM_GUEST_DIR; scripts/guest-image builds one), --accel auto (KVM when a\n"
    "probe boot works, else TCG). The guest's console and QEMU's log stay in --run-dir\n"
    "(default /tmp/iommuvm-vm-check). Exit 0 when the guest runs the requested mode, 1 when\n"
    "it does not or did not boot, 2 on usage errors. --capture DIR also records the guest's\n"
    "proc and sysfs files the probe reads and its kernel log into DIR (replaced), a sysroot\n"
    "for `iommuvm-agent inspect --sysroot DIR --kernel-log DIR/dmesg.txt`.\n";

absl::StatusOr<bool> OnOff(const Args& args, const std::string& flag, bool fallback) {
  std::string v = args.Get(flag, fallback ? "on" : "off");
  if (v == "on" || v == "true") return true;
  if (v == "off" || v == "false") return false;
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", v, "' is not on or off"));
}

}  // namespace

absl::StatusOr<VmCheckOptions> ParseVmCheckArgs(const std::vector<std::string>& argv) {
  auto parsed = ParseArgs(argv,
                          {"viommu", "guest-iommu", "caching-mode", "intremap", "device-iotlb",
                           "aw-bits", "vcpus", "memory", "guest-dir", "kernel", "initrd", "accel",
                           "run-dir", "timeout", "format", "capture"},
                          {"help"});
  if (!parsed.ok()) return parsed.status();
  const Args& args = *parsed;
  if (args.Has("help")) return absl::CancelledError("help");
  if (!args.positional.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args.positional[0], "'"));
  }
  VmCheckOptions o;
  v1::VmConfig& vm = o.vm;
  vm.set_name("vm-check");
  vm.set_nic("virtio");
  vm.set_viommu(args.Get("viommu", "intel"));
  std::string mode = args.Get("guest-iommu", vm.viommu() == "none" ? "off" : "strict");
  v1::IommuMode parsed_mode = v1::IOMMU_MODE_UNSPECIFIED;
  if (!iommu::ParseIommuModeName(mode, &parsed_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--guest-iommu '", mode, "' is not one of off, passthrough, lazy, strict, current"));
  }
  vm.set_guest_iommu(parsed_mode);
  for (const auto& [flag, fallback, setter] :
       std::vector<std::tuple<std::string, bool, void (v1::VmConfig::*)(bool)>>{
           {"caching-mode", true, &v1::VmConfig::set_caching_mode},
           {"intremap", true, &v1::VmConfig::set_intremap},
           {"device-iotlb", false, &v1::VmConfig::set_device_iotlb}}) {
    auto v = OnOff(args, flag, fallback);
    if (!v.ok()) return v.status();
    (vm.*setter)(*v);
  }
  uint32_t aw = 0, vcpus = 2;
  if (!absl::SimpleAtoi(args.Get("aw-bits", "0"), &aw)) {
    return absl::InvalidArgumentError("--aw-bits takes 39 or 48");
  }
  if (!absl::SimpleAtoi(args.Get("vcpus", "2"), &vcpus) || vcpus == 0) {
    return absl::InvalidArgumentError("--vcpus takes a positive number");
  }
  vm.set_aw_bits(aw);
  vm.set_vcpus(vcpus);
  auto memory = ParseSize(args.Get("memory", "1GiB"));
  if (!memory.ok()) return absl::InvalidArgumentError(absl::StrCat("--memory: ", memory.status().message()));
  vm.set_memory_bytes(*memory);
  const char* env_dir = std::getenv("IOMMUVM_GUEST_DIR");
  std::string guest_dir = args.Get("guest-dir", env_dir != nullptr ? env_dir : "");
  vm.set_kernel(args.Get("kernel", guest_dir.empty() ? "" : guest_dir + "/vmlinuz"));
  vm.set_initrd(args.Get("initrd", guest_dir.empty() ? "" : guest_dir + "/initrd.cpio"));
  if (!vm.kernel().empty()) vm.set_kernel(AbsolutePath(vm.kernel()));
  if (!vm.initrd().empty()) vm.set_initrd(AbsolutePath(vm.initrd()));
  if (vm.kernel().empty() || vm.initrd().empty()) {
    return absl::InvalidArgumentError(
        "no guest image: give --guest-dir DIR (or set IOMMUVM_GUEST_DIR, or --kernel and "
        "--initrd); scripts/guest-image builds one");
  }
  o.accel = args.Get("accel", "auto");
  if (o.accel != "auto" && o.accel != "kvm" && o.accel != "tcg") {
    return absl::InvalidArgumentError(absl::StrCat("--accel '", o.accel, "' is not auto, kvm or tcg"));
  }
  // Absolute: QEMU runs in the run directory, where relative paths break.
  o.run_dir = AbsolutePath(args.Get("run-dir", "/tmp/iommuvm-vm-check"));
  if (!absl::SimpleAtoi(args.Get("timeout", "180"), &o.timeout_s) || o.timeout_s <= 0) {
    return absl::InvalidArgumentError("--timeout takes a positive number of seconds");
  }
  std::string format = args.Get("format", "table");
  if (format != "table" && format != "json") {
    return absl::InvalidArgumentError(absl::StrCat("--format '", format, "' is not table or json"));
  }
  o.json = format == "json";
  o.capture_dir = args.Get("capture", "");
  if (!o.capture_dir.empty()) o.capture_dir = AbsolutePath(o.capture_dir);
  if (!o.capture_dir.empty()) {
    vm.set_append(vm.append().empty() ? kCaptureToken
                                      : absl::StrCat(vm.append(), " ", kCaptureToken));
  }
  return o;
}

int RunVmCheck(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  auto opts = ParseVmCheckArgs(argv);
  if (!opts.ok()) {
    if (absl::IsCancelled(opts.status())) {
      out << kUsage;
      return 0;
    }
    err << "iommuvm-agent vm-check: " << opts.status().message() << "\n" << kUsage;
    return 2;
  }
  LocalFileSystem files("/");
  RealClock clock;
  for (const std::string* file : {&opts->vm.kernel(), &opts->vm.initrd()}) {
    if (!files.Exists(*file)) {
      err << "iommuvm-agent vm-check: " << *file
          << " does not exist (scripts/guest-image builds the guest image)\n";
      return 2;
    }
  }
  // Refuse what cannot run before spending any boot on it.
  QemuLaunch dry_run;
  dry_run.console_path = "/dev/null";
  if (auto argv = QemuCommandLine(opts->vm, dry_run); !argv.ok()) {
    err << "iommuvm-agent vm-check: " << argv.status().message() << "\n";
    return 2;
  }
  if (absl::Status made = files.MakeDirs(opts->run_dir); !made.ok()) {
    err << "iommuvm-agent vm-check: " << made.message() << "\n";
    return 2;
  }
  LocalCommandRunner runner;
  Accelerator accel{opts->accel, absl::StrCat("asked for ", opts->accel)};
  if (opts->accel == "auto") {
    err << "vm-check: probing KVM with a short boot...\n";
    accel = ChooseAccelerator("/dev/kvm", [&] {
      return ProbeKvmBoot(&runner, &files, &clock, opts->vm, opts->run_dir, absl::Seconds(15));
    });
  }
  err << "vm-check: booting the guest under " << accel.name << "...\n";
  QemuVm vm(&runner, &files, &clock);
  absl::Status started = vm.Start(opts->vm, accel.name, opts->run_dir);
  if (!started.ok()) {
    err << "iommuvm-agent vm-check: cannot boot the guest: " << started.message() << "\n";
    return 1;
  }
  auto console = vm.WaitForConsole(kGuestUpMarker, absl::Seconds(opts->timeout_s));
  if (console.ok()) {
    err << "vm-check: guest up after " << absl::StrFormat("%.1f", absl::ToDoubleSeconds(vm.Uptime()))
        << " s; its probe is running...\n";
    console = vm.WaitForConsole(opts->capture_dir.empty() ? kInspectEndMarker : kCaptureEndMarker,
                                absl::Seconds(opts->timeout_s));
  }
  double boot_s = absl::ToDoubleSeconds(vm.Uptime());
  vm.Stop();
  absl::StatusOr<GuestReport> report =
      console.ok() ? ParseGuestReport(*console) : absl::StatusOr<GuestReport>(console.status());
  if (!report.ok()) {
    err << "iommuvm-agent vm-check: " << report.status().message() << "\n  (" << accel.reason
        << "; console and QEMU log in " << opts->run_dir << ")\n";
    return 1;
  }
  if (!opts->capture_dir.empty()) {
    auto archive = ExtractCapture(*console);
    absl::Status unpacked = archive.ok()
                                ? UnpackCapture(*archive, opts->capture_dir, &runner, &files)
                                : archive.status();
    if (!unpacked.ok()) {
      err << "iommuvm-agent vm-check: " << unpacked.message() << " (console in " << opts->run_dir
          << ")\n";
      return 1;
    }
  }
  std::string requested = ModeName(opts->vm.guest_iommu());
  bool as_requested = opts->vm.guest_iommu() == v1::IOMMU_MODE_CURRENT ||
                      report->detected_mode == requested;
  const v1::VmConfig& c = opts->vm;
  std::string viommu = c.viommu() == "intel"
                           ? absl::StrCat("intel (intremap=", c.intremap() ? "on" : "off",
                                          " caching-mode=", c.caching_mode() ? "on" : "off",
                                          " device-iotlb=", c.device_iotlb() ? "on" : "off", ")")
                           : c.viommu();
  if (opts->json) {
    std::vector<std::string> warnings;
    for (const auto& w : report->warnings) warnings.push_back(JsonEscape(w));
    out << "{\"viommu\": " << JsonEscape(viommu) << ", \"accelerator\": " << JsonEscape(accel.name)
        << ", \"accelerator_reason\": " << JsonEscape(accel.reason)
        << ", \"requested\": " << JsonEscape(requested)
        << ", \"detected\": " << JsonEscape(report->detected_mode)
        << ", \"as_requested\": " << (as_requested ? "true" : "false")
        << ", \"guest_cmdline\": " << JsonEscape(report->cmdline)
        << ", \"guest_kernel\": " << JsonEscape(report->kernel_release)
        << ", \"nic\": " << JsonEscape(report->data_nic)
        << ", \"iommu_group\": " << JsonEscape(report->data_group)
        << ", \"group_type\": " << JsonEscape(report->data_group_type)
        << ", \"boot_seconds\": " << absl::StrFormat("%.1f", boot_s)
        << ", \"capture\": " << (opts->capture_dir.empty() ? "null" : JsonEscape(opts->capture_dir))
        << ", \"warnings\": [" << absl::StrJoin(warnings, ", ") << "]}\n";
  } else {
    out << "guest: " << viommu << " vIOMMU, kernel " << report->kernel_release << ", "
        << accel.reason << "\n";
    Table t({{"requested"}, {"detected"}, {"nic"}, {"group"}, {"type"}, {"boot_s", true}});
    t.AddRow({requested, report->detected_mode, report->data_nic, report->data_group,
              report->data_group_type, absl::StrFormat("%.1f", boot_s)});
    t.Print(out, Format::kTable);
    for (const auto& w : report->warnings) out << "warning: " << w << "\n";
    if (!opts->capture_dir.empty()) out << "capture: " << opts->capture_dir << "\n";
  }
  return as_requested ? 0 : 1;
}

}  // namespace iommuvm::agent
