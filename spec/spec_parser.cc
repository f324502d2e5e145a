#include "spec/spec_parser.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "iommu/cmdline.h"
#include "iommu/guest_mode.h"
#include "iommu/mode_names.h"
#include "spec/host_parser.h"
#include "spec/kernel_axis.h"
#include "spec/matrix.h"
#include "spec/params.h"
#include "spec/workload_parser.h"
#include "spec/yaml_reader.h"

namespace iommuvm::spec {
namespace {

const std::vector<std::string> kIommuModes = {"off", "passthrough", "lazy", "strict", "current"};
const std::vector<std::string> kBareMetal = {"bare-metal"};
const std::vector<std::string> kVendors = {"intel", "amd"};
const std::vector<std::string> kSwitchMethods = {"sysfs", "kexec", "grub"};

// Reads one spec file; each Read* method handles one section.
class Parser {
 public:
  Parser(SpecErrors* errors, uint64_t max_runs) : errors_(errors), max_runs_(max_runs) {}

  void ReadTop(const YAML::Node& root, ExperimentSpec* spec) {
    MapReader r(root, "", errors_);
    if (!r.valid()) return;
    r.String("name", &spec->name, /*required=*/true);
    r.String("description", &spec->description);
    r.StringMap("labels", &spec->labels);
    ReadRepetitions(r, spec);
    r.UInt32("retries", &spec->retries, 0, 10);
    ReadWorkloads(r, spec);
    ReadVms(r, spec);
    ReadKernels(r, spec);
    ReadMatrix(r, spec);
    ReadNodes(r, spec);
    ReadTimeouts(r, &spec->timeouts);
    ReadTelemetry(r, spec);
    if (YAML::Node host = r.Child("host"); host.IsDefined()) ReadHost(host, errors_, &spec->host);
    if (spec->telemetry.collectors.empty()) spec->telemetry.collectors = TelemetryCollectors();
    ReadIommuTokens(r, &spec->iommu_tokens);
    ReadSwitch(r, spec);
    ReadOrder(r, &spec->order);
    CheckRebootsPossible(r, *spec);
    CheckKernelsBootable(r, *spec);
  }

 private:
  // `repetitions: 5`, or `repetitions: {min: 3, max: 20, until_ci_below: 2%}`.
  void ReadRepetitions(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("repetitions");
    if (!n.IsMap()) {
      parent.UInt32("repetitions", &spec->repetitions, 1, 10000);
      return;
    }
    MapReader r(n, "repetitions", errors_);
    if (!r.valid()) return;
    spec->repetitions = 2;
    r.UInt32("min", &spec->repetitions, 2, 10000);
    spec->max_repetitions = spec->repetitions;
    r.UInt32("max", &spec->max_repetitions, 2, 10000);
    if (!r.Child("max").IsDefined()) {
      r.Error(n, "repetitions.max", "required key is missing: the most repetitions of a point");
    } else if (spec->max_repetitions <= spec->repetitions) {
      r.Error(
          r.Child("max"), "repetitions.max",
          absl::StrCat("max (", spec->max_repetitions, ") must be above min (", spec->repetitions,
                       "); for a fixed count write repetitions: ", spec->repetitions));
    }
    YAML::Node target = r.Child("until_ci_below");
    std::string scalar = target.IsScalar() ? target.Scalar() : "";
    absl::string_view text = scalar;
    double pct = 0;
    if (!target.IsDefined()) {
      r.Error(n, "repetitions.until_ci_below",
              "required key is missing: the 95% confidence interval's half-width to reach, as a "
              "share of the mean (e.g. 2%)");
    } else if (!absl::ConsumeSuffix(&text, "%") || !absl::SimpleAtod(text, &pct) || pct <= 0 ||
               pct >= 100) {
      r.Error(target, "repetitions.until_ci_below",
              absl::StrCat("expected a percentage above 0 and below 100 such as 2%, found ",
                           Describe(target)));
    } else {
      spec->until_ci_below_pct = pct;
    }
  }

  void ReadWorkloads(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("workloads");
    if (!n.IsDefined()) {
      parent.Error(n, "workloads", "required key is missing; define at least one workload");
      return;
    }
    if (!n.IsMap() || n.size() == 0) {
      AddError(errors_, n, "workloads",
               "expected a mapping of workload names to definitions, found " + Describe(n));
      return;
    }
    for (const auto& kv : n) {
      WorkloadSpec w;
      w.name = kv.first.as<std::string>("");
      ReadWorkload(kv.second, "workloads." + w.name, errors_, &w);
      spec->workloads[w.name] = std::move(w);
    }
  }

  void ReadMatrix(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("matrix");
    if (!n.IsDefined()) {
      parent.Error(n, "matrix", "required key is missing; list at least the workloads to run");
      return;
    }
    MapReader m(n, "matrix", errors_);
    if (!m.valid()) return;
    std::vector<std::string> modes;
    m.StringList("iommu", &modes, kIommuModes);
    if (!modes.empty()) {
      spec->matrix.iommu.clear();
      for (const auto& name : modes) {
        v1::IommuMode mode;
        iommu::ParseIommuModeName(name, &mode);
        spec->matrix.iommu.push_back(mode);
      }
    }
    std::vector<std::string> workload_names;
    for (const auto& [name, w] : spec->workloads) workload_names.push_back(name);
    m.StringList("workload", &spec->matrix.workload, workload_names, /*required=*/true);
    std::vector<std::string> vm_names = kBareMetal;
    for (const auto& [name, vm] : spec->vms) vm_names.push_back(name);
    m.StringList("vm", &spec->matrix.vm, vm_names);
    ReadKernelAxis(m, spec);
    ReadUserAxes(n, m, spec);
    ReadPartialPoints(m, "exclude", *spec, &spec->matrix.exclude);
    ReadPartialPoints(m, "include", *spec, &spec->matrix.include);
    std::string factors;
    uint64_t bound = MatrixSizeBound(*spec, &factors);
    if (bound > max_runs_) {
      m.Error(n, "matrix",
              absl::StrCat("expands to up to ",
                           bound == UINT64_MAX ? "more than 2^64" : absl::StrCat(bound), " runs (",
                           factors, "), more than the ", max_runs_,
                           " one experiment may have (the controller's "
                           "--max_runs_per_experiment); split it or shorten the axes that "
                           "multiply"));
      return;  // too big to expand for the checks below
    }
    CheckVmAgainstModes(m, *spec);
  }

  // `kernel: [stock, 6.12.9-fns]`: stock, `kernels` entries, or installed
  // releases; each at most once.
  void ReadKernelAxis(MapReader& m, ExperimentSpec* spec) {
    std::vector<std::string> values;
    m.StringList(kKernelAxis, &values);
    YAML::Node list = m.Child(kKernelAxis);
    std::set<std::string> seen;
    for (size_t i = 0; i < values.size(); ++i) {
      YAML::Node item = list.IsSequence() && i < list.size() ? list[i] : list;
      std::string path = absl::StrCat(m.ChildPath(kKernelAxis), "[", i, "]");
      std::string e = CheckKernelToken(values[i]);
      if (e.empty() && !seen.insert(values[i]).second) e = "'" + values[i] + "' is listed twice";
      if (!e.empty()) {
        AddError(errors_, item, path, e);
        continue;
      }
      spec->matrix.kernel.push_back(values[i]);
    }
  }

  // `kernels:` name -> {release, image, initrd, grub_entry}.
  void ReadKernels(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("kernels");
    if (!n.IsDefined()) return;
    if (!n.IsMap()) {
      AddError(errors_, n, "kernels",
               "expected a mapping of kernel names to {release, image, initrd, grub_entry}, "
               "found " +
                   Describe(n));
      return;
    }
    for (const auto& kv : n) {
      KernelSpec k;
      k.name = kv.first.as<std::string>("");
      std::string path = "kernels." + k.name;
      if (k.name == kStockKernel) {
        AddError(errors_, kv.first, path,
                 "'stock' is reserved for the kernel each node ran when its agent started");
        continue;
      }
      if (std::string e = CheckKernelToken(k.name); !e.empty()) {
        AddError(errors_, kv.first, path, e);
        continue;
      }
      MapReader r(kv.second, path, errors_);
      if (!r.valid()) continue;
      r.String("release", &k.release);
      r.String("image", &k.image);
      r.String("initrd", &k.initrd);
      r.String("grub_entry", &k.grub_entry);
      if (!k.release.empty()) {
        if (std::string e = CheckKernelToken(k.release); !e.empty()) {
          r.Error(r.Child("release"), r.ChildPath("release"), e);
        }
      }
      for (const auto& [key, path] :
           {std::pair<const char*, const std::string*>{"image", &k.image}, {"initrd", &k.initrd}}) {
        const std::string& v = *path;
        if (!v.empty() && (v[0] != '/' || v.find_first_of(" \t\n'\"") != std::string::npos)) {
          r.Error(r.Child(key), r.ChildPath(key),
                  absl::StrCat("expected an absolute path on the server node without spaces or "
                               "quotes, found '",
                               v, "'"));
        }
      }
      if (k.grub_entry.find_first_of("\n\"$`\\") != std::string::npos) {
        r.Error(r.Child("grub_entry"), r.ChildPath("grub_entry"),
                "a grub entry's title or id cannot hold newlines, quotes, $, ` or \\");
      }
      spec->kernels[k.name] = std::move(k);
    }
  }

  // Matrix keys naming a workload parameter are user axes.
  void ReadUserAxes(const YAML::Node& n, MapReader& m, ExperimentSpec* spec) {
    for (const std::string& name : AxisParameters()) m.Known(name);
    for (const auto& kv : n) {
      std::string key = kv.first.as<std::string>("");
      const auto& params = AxisParameters();
      if (std::find(params.begin(), params.end(), key) == params.end()) continue;
      std::vector<std::string> values;
      m.StringList(key, &values);
      YAML::Node list = m.Child(key);
      for (size_t i = 0; i < values.size(); ++i) {
        std::string e = CheckAxisValue(key, values[i]);
        if (e.empty()) continue;
        YAML::Node item = list.IsSequence() && i < list.size() ? list[i] : list;
        AddError(errors_, item, m.ChildPath(key) + "[" + std::to_string(i) + "]", e);
      }
      bool applies = false;
      for (const auto& w : spec->matrix.workload) {
        auto it = spec->workloads.find(w);
        if (it != spec->workloads.end() && AxisAppliesTo(key, it->second)) applies = true;
      }
      if (!applies && !spec->matrix.workload.empty()) {
        AddError(errors_, m.Child(key), m.ChildPath(key),
                 "axis '" + key + "' applies to none of this matrix's workloads (" +
                     absl::StrJoin(spec->matrix.workload, ", ") + ") with their app and tool");
      }
      if (!values.empty()) spec->matrix.user_axes.emplace_back(key, values);
    }
  }

  // The values an axis of this matrix may take (empty: not an axis here).
  std::vector<std::string> AxisValues(const ExperimentSpec& spec, const std::string& axis) {
    if (axis == "iommu") {
      std::vector<std::string> v;
      for (auto mode : spec.matrix.iommu) v.push_back(iommu::IommuModeName(mode));
      return v;
    }
    if (axis == "workload") return spec.matrix.workload;
    if (axis == "vm") return spec.matrix.vm;
    if (axis == kKernelAxis) return spec.matrix.kernel;
    for (const auto& [name, values] : spec.matrix.user_axes) {
      if (name == axis) return values;
    }
    return {};
  }

  // An included point may use any defined value, not only the matrix's.
  std::string CheckIncludedValue(const ExperimentSpec& spec, const std::string& axis,
                                 const std::string& value) {
    v1::IommuMode mode;
    if (axis == "iommu") {
      return iommu::ParseIommuModeName(value, &mode) ? "" : "'" + value + "' is not an IOMMU mode";
    }
    if (axis == "workload") {
      return spec.workloads.count(value) ? "" : "'" + value + "' is not a defined workload";
    }
    if (axis == "vm") {
      return value == "bare-metal" || spec.vms.count(value) ? ""
                                                            : "'" + value + "' is not a defined vm";
    }
    if (axis == kKernelAxis) return CheckKernelToken(value);
    const auto& params = AxisParameters();
    if (std::find(params.begin(), params.end(), axis) == params.end()) {
      return "'" + axis + "' is not an axis; axes: iommu, workload, vm, kernel, " +
             absl::StrJoin(params, ", ");
    }
    return CheckAxisValue(axis, value);
  }

  void ReadPartialPoints(MapReader& m, const std::string& key, const ExperimentSpec& spec,
                         std::vector<PartialPoint>* out) {
    YAML::Node n = m.Child(key);
    if (!n.IsDefined()) return;
    std::string path = m.ChildPath(key);
    if (!n.IsSequence()) {
      AddError(errors_, n, path, "expected a list of points such as {iommu: off, workload: w}");
      return;
    }
    std::vector<std::string> axes = {"iommu", "workload", "vm"};
    if (!spec.matrix.kernel.empty()) axes.push_back(kKernelAxis);
    for (const auto& [name, _] : spec.matrix.user_axes) axes.push_back(name);
    for (size_t i = 0; i < n.size(); ++i) {
      std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!n[i].IsMap() || n[i].size() == 0) {
        AddError(errors_, n[i], item_path, "expected a mapping of axis names to values");
        continue;
      }
      PartialPoint point;
      for (const auto& kv : n[i]) {
        std::string axis = kv.first.as<std::string>("");
        std::string value = kv.second.IsScalar() ? kv.second.Scalar() : "";
        if (key == "include") {
          std::string e = CheckIncludedValue(spec, axis, value);
          if (!e.empty()) {
            AddError(errors_, kv.second, item_path + "." + axis, e);
          } else {
            point[axis] = value;
          }
          continue;
        }
        std::vector<std::string> allowed = AxisValues(spec, axis);
        if (allowed.empty()) {
          std::string msg =
              "'" + axis + "' is not an axis of this matrix; axes: " + absl::StrJoin(axes, ", ");
          AddError(errors_, kv.first, item_path + "." + axis, msg);
          continue;
        }
        if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
          AddError(errors_, kv.second, item_path + "." + axis,
                   "'" + value + "' is not a value of axis " + axis +
                       " (values: " + absl::StrJoin(allowed, ", ") + ")");
          continue;
        }
        point[axis] = value;
      }
      if (key == "include" &&
          (!point.count("iommu") || !point.count("workload") || !point.count("vm"))) {
        AddError(errors_, n[i], item_path, "an included point needs iommu, workload and vm");
        continue;
      }
      out->push_back(std::move(point));
    }
  }

  void ReadVms(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("vms");
    if (!n.IsDefined()) return;
    if (!n.IsMap()) {
      AddError(errors_, n, "vms",
               "expected a mapping of VM names to definitions, found " + Describe(n));
      return;
    }
    for (const auto& kv : n) {
      VmSpec vm;
      vm.name = kv.first.as<std::string>("");
      std::string path = "vms." + vm.name;
      if (vm.name == "bare-metal") {
        AddError(errors_, kv.first, path, "'bare-metal' is reserved for runs without a VM");
        continue;
      }
      MapReader r(kv.second, path, errors_);
      if (!r.valid()) continue;
      r.UInt32("vcpus", &vm.vcpus, 1, 1024);
      r.Size("memory", &vm.memory_bytes, 64ull << 20, 16ull << 40);
      std::vector<std::string> one;
      r.StringList("viommu", &one, {"none", "intel", "virtio", "amd"});
      if (!one.empty()) vm.viommu = one[0];
      YAML::Node opts = r.Child("viommu_options");
      if (opts.IsDefined()) {
        MapReader o(opts, r.ChildPath("viommu_options"), errors_);
        o.Bool("caching_mode", &vm.caching_mode);
        o.Bool("intremap", &vm.intremap);
        o.Bool("device_iotlb", &vm.device_iotlb);
        o.UInt32("aw_bits", &vm.aw_bits, 39, 48);
        if (vm.aw_bits != 39 && vm.aw_bits != 48) {
          o.Error(o.Child("aw_bits"), o.ChildPath("aw_bits"), "must be 39 or 48");
        }
      }
      one.clear();
      r.StringList("guest_iommu", &one, kIommuModes);
      if (!one.empty()) iommu::ParseIommuModeName(one[0], &vm.guest_iommu);
      one.clear();
      r.StringList("nic", &one, {"virtio", "vfio-vf"});
      if (!one.empty()) vm.nic = one[0];
      r.String("vf_bdf", &vm.vf_bdf);
      if (!vm.vf_bdf.empty() && vm.nic != "vfio-vf") {
        r.Error(r.Child("vf_bdf"), r.ChildPath("vf_bdf"),
                "a VF is assigned only with nic: vfio-vf");
      }
      r.String("kernel", &vm.kernel);
      r.String("initrd", &vm.initrd);
      r.String("disk", &vm.disk);
      one.clear();
      r.StringList("accel", &one, {"kvm", "tcg"});
      if (!one.empty()) vm.accel = one[0];
      r.String("qemu_binary", &vm.qemu_binary);
      r.String("pin", &vm.pin);
      r.Bool("hugepages", &vm.hugepages);
      one.clear();
      r.StringList("translation", &one, {"shadow", "nested"});
      if (!one.empty()) vm.translation = one[0];
      if (vm.translation == "nested" && (vm.viommu != "intel" || vm.nic != "vfio-vf")) {
        r.Error(r.Child("translation"), r.ChildPath("translation"),
                "nested translation is of an assigned VF's DMA behind an emulated VT-d: it needs "
                "viommu: intel and nic: vfio-vf");
      }
      one.clear();
      r.StringList("backend", &one, {"qemu", "libvirt"});
      bool backend_given = !one.empty();
      if (backend_given) vm.backend = one[0];
      r.String("libvirt_xml", &vm.libvirt_xml);
      if (!vm.libvirt_xml.empty()) {
        if (backend_given && vm.backend != "libvirt") {
          r.Error(r.Child("libvirt_xml"), r.ChildPath("libvirt_xml"),
                  "a libvirt domain template needs backend: libvirt (or no backend)");
        }
        vm.backend = "libvirt";
      }
      if (vm.backend == "libvirt" && vm.libvirt_xml.empty() && vm.translation == "nested") {
        r.Error(r.Child("translation"), r.ChildPath("translation"),
                "libvirt's <iommu> cannot ask for nested translation: use backend: qemu");
      }
      if (vm.backend == "libvirt" && vm.libvirt_xml.empty() && vm.viommu == "amd") {
        r.Error(r.Child("viommu"), r.ChildPath("viommu"),
                "libvirt has no <iommu model='amd'> (9.0 on Debian 12, 10.0 on Ubuntu 24.04 accept "
                "intel and virtio): use backend: qemu, or a "
                "libvirt_xml template that adds -device amd-iommu in <qemu:commandline>");
      }
      if (!vm.pin.empty() && vm.pin != "auto") {
        std::string e = CheckCpuList(vm.pin);
        if (!e.empty()) r.Error(r.Child("pin"), r.ChildPath("pin"), e + " (or auto)");
      }
      // What guests really run (iommu/guest_mode.h, docs/vm.md, pinned by
      // the vm tests): asking for a mode the guest kernel overrides would
      // mislabel runs, and QEMU refuses some NICs behind some vIOMMUs.
      iommu::Viommu viommu = iommu::Viommu::kNone;
      iommu::ParseViommuName(vm.viommu, &viommu);
      iommu::ViommuOptions options;
      options.caching_mode = vm.caching_mode;
      options.intremap = vm.intremap;
      options.device_iotlb = vm.device_iotlb;
      iommu::GuestNic nic = vm.nic == "vfio-vf" ? iommu::GuestNic::kVfio : iommu::GuestNic::kVirtio;
      iommu::GuestRequest request;
      request.mode = vm.guest_iommu;
      for (iommu::GuestRefusal refusal :
           iommu::ExpectedGuestMode(viommu, options, nic, request).refusals) {
        switch (refusal) {
          case iommu::GuestRefusal::kVfioNeedsCachingMode:
            r.Error(r.Child("nic"), r.ChildPath("nic"),
                    "a vfio-vf NIC behind an emulated Intel IOMMU needs "
                    "viommu_options.caching_mode: true");
            break;
          case iommu::GuestRefusal::kVfioBehindAmdIommu:
            r.Error(r.Child("nic"), r.ChildPath("nic"),
                    "QEMU's amd-iommu cannot translate for an assigned device (it lacks the map "
                    "notifier VFIO needs); use viommu intel with caching_mode: true, or virtio");
            break;
          case iommu::GuestRefusal::kLazyRunsStrictUnderCachingMode:
            r.Error(r.Child("guest_iommu"), r.ChildPath("guest_iommu"),
                    "a guest behind an emulated VT-d with caching mode runs lazy as strict ('IOMMU "
                    "batching disallowed due to virtualization'); set viommu_options.caching_mode: "
                    "false (not possible with nic: vfio-vf) or ask for strict");
            break;
          case iommu::GuestRefusal::kLazyRunsStrictUnderAmdIommu:
            r.Error(r.Child("guest_iommu"), r.ChildPath("guest_iommu"),
                    "Linux runs lazy as strict under an emulated AMD IOMMU ('AMD-Vi: Using strict "
                    "mode due to virtualization'); lazy guests need viommu intel with "
                    "caching_mode: false");
            break;
          case iommu::GuestRefusal::kVirtioIommuCannotBeOff:
            r.Error(r.Child("guest_iommu"), r.ChildPath("guest_iommu"),
                    "virtio-iommu cannot be turned off from the guest's command line; use viommu: "
                    "none for a guest without an IOMMU");
            break;
          case iommu::GuestRefusal::kModeNeedsViommu:
            r.Error(r.Child("guest_iommu"), r.ChildPath("guest_iommu"),
                    std::string("guest mode ") + iommu::IommuModeName(vm.guest_iommu) +
                        " needs a viommu (intel, virtio or amd)");
            break;
        }
      }
      spec->vms[vm.name] = std::move(vm);
    }
  }

  // A VF passed through to a guest needs the host IOMMU on: no point of
  // the matrix (after exclude/include) may combine iommu off with such a vm.
  void CheckVmAgainstModes(MapReader& m, const ExperimentSpec& spec) {
    bool vf_vm = false;
    for (const auto& [name, vm] : spec.vms) vf_vm = vf_vm || vm.nic == "vfio-vf";
    if (!vf_vm) return;
    for (const auto& w : spec.matrix.workload) {
      if (!spec.workloads.count(w)) return;  // already reported; cannot expand
    }
    ExperimentSpec one = spec;
    one.repetitions = 1;
    std::set<std::string> reported;
    // The host modes each VF vm is measured in (per workload and user-axis
    // values: the rest of the point).
    std::map<std::string, std::set<v1::IommuMode>> host_modes;
    for (const RunPoint& p : ExpandMatrix(one)) {
      auto vm = spec.vms.find(p.vm);
      if (vm == spec.vms.end() || vm->second.nic != "vfio-vf") continue;
      std::string rest = p.vm + "\n" + p.workload;
      for (const auto& [k, v] : p.params) rest += "\n" + k + "=" + v;
      host_modes[rest].insert(p.iommu);
      if (p.iommu != v1::IOMMU_MODE_OFF || !reported.insert(p.vm).second) continue;
      m.Error(m.Child("iommu"), m.ChildPath("iommu"),
              "vm '" + p.vm +
                  "' passes a VF through (nic: vfio-vf), which needs the host "
                  "IOMMU on; remove 'off' or that vm, or exclude {iommu: off, vm: " +
                  p.vm + "}");
    }
    // VFIO gives an assigned VF an unmanaged domain of its own: the host's
    // passthrough, lazy or strict default domain never translates its DMA.
    // Several host modes with one VF vm would measure one point several
    // times and call it several modes.
    for (const auto& [rest, modes] : host_modes) {
      std::string vm = rest.substr(0, rest.find('\n'));
      std::vector<std::string> on;
      for (v1::IommuMode mode : modes) {
        if (mode != v1::IOMMU_MODE_OFF) on.push_back(iommu::IommuModeName(mode));
      }
      if (on.size() < 2 || !reported.insert("modes:" + vm).second) continue;
      std::string excludes;
      for (size_t i = 0; i + 1 < on.size(); ++i) {
        excludes += std::string(i > 0 ? ", " : "") + "{iommu: " + on[i] + ", vm: " + vm + "}";
      }
      m.Error(m.Child("iommu"), m.ChildPath("iommu"),
              "vm '" + vm +
                  "' passes a VF through, and VFIO gives it an IOMMU domain of its "
                  "own whatever the host's mode: host modes " +
                  absl::StrJoin(on, ", ") + " would be one point measured " +
                  std::to_string(on.size()) + " times. Keep one host mode for it (exclude " +
                  excludes + ")");
    }
  }

  void ReadNodes(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("nodes");
    if (!n.IsDefined()) return;
    MapReader r(n, "nodes", errors_);
    if (!r.valid()) return;
    NodesSpec& nodes = spec->nodes;
    r.StringMap("selector", &nodes.selector);
    r.UInt32("count", &nodes.count, 1, 10000);
    std::vector<std::string> client_mode;
    r.StringList("client_iommu", &client_mode, kIommuModes);
    if (client_mode.size() > 1) {
      r.Error(r.Child("client_iommu"), r.ChildPath("client_iommu"), "expected one mode");
    } else if (!client_mode.empty()) {
      iommu::ParseIommuModeName(client_mode[0], &nodes.client_iommu);
    }
    YAML::Node pairs = r.Child("pairs");
    if (!pairs.IsDefined()) return;
    if (!pairs.IsSequence() || pairs.size() == 0) {
      AddError(errors_, pairs, "nodes.pairs", "expected a list of {server, client}");
      return;
    }
    for (const char* other : {"selector", "count"}) {
      if (r.Child(other).IsDefined()) {
        r.Error(r.Child(other), r.ChildPath(other),
                "choose nodes either by explicit 'pairs' or by 'selector' and 'count', "
                "not both");
      }
    }
    for (size_t i = 0; i < pairs.size(); ++i) {
      PairSpec p;
      MapReader pr(pairs[i], "nodes.pairs[" + std::to_string(i) + "]", errors_);
      pr.String("server", &p.server, true);
      pr.String("client", &p.client, true);
      for (const auto& q : nodes.pairs) {
        for (const std::string* name : {&p.server, &p.client}) {
          if (!name->empty() && (*name == q.server || *name == q.client)) {
            pr.Error(pairs[i], pr.path(),
                     "node '" + *name +
                         "' is already in another pair; a node serves one "
                         "pair so runs never share it");
          }
        }
      }
      nodes.pairs.push_back(p);
    }
  }

  void ReadTimeouts(MapReader& parent, TimeoutsSpec* t) {
    YAML::Node n = parent.Child("timeouts");
    if (!n.IsDefined()) return;
    MapReader r(n, "timeouts", errors_);
    r.Duration("prepare", &t->prepare, absl::Seconds(1));
    r.Duration("run", &t->run, absl::Seconds(1));
    r.Duration("collect", &t->collect, absl::Seconds(1));
    r.Duration("boot", &t->boot, absl::Seconds(10));
  }

  void ReadTelemetry(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("telemetry");
    if (!n.IsDefined()) return;
    MapReader r(n, "telemetry", errors_);
    r.Duration("interval", &spec->telemetry.interval, absl::Milliseconds(100));
    r.StringList("collectors", &spec->telemetry.collectors, TelemetryCollectors());
    r.UInt32("unsteady_below_pct", &spec->telemetry.unsteady_below_pct, 0, 100);
  }

  // A command-line fragment: every problem CheckCmdline finds, at `node`.
  void CheckTokens(const YAML::Node& node, const std::string& path, std::string* out) {
    if (!node.IsScalar()) {
      AddError(errors_, node, path, "expected kernel command-line tokens, found " + Describe(node));
      return;
    }
    for (const auto& e : iommu::CheckCmdline(node.Scalar())) AddError(errors_, node, path, e);
    *out = node.Scalar();
  }

  void ReadIommuTokens(MapReader& parent, IommuTokensSpec* out) {
    YAML::Node extra = parent.Child("extra_cmdline");
    if (extra.IsDefined()) CheckTokens(extra, "extra_cmdline", &out->extra_cmdline);
    YAML::Node n = parent.Child("iommu_tokens");
    if (!n.IsDefined()) return;
    MapReader r(n, "iommu_tokens", errors_);
    if (!r.valid()) return;
    for (const std::string& vendor : kVendors) {
      YAML::Node v = r.Child(vendor);
      if (!v.IsDefined()) continue;
      MapReader modes(v, r.ChildPath(vendor), errors_);
      if (!modes.valid()) continue;
      for (v1::IommuMode m : {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_PASSTHROUGH, v1::IOMMU_MODE_LAZY,
                              v1::IOMMU_MODE_STRICT}) {
        YAML::Node t = modes.Child(iommu::IommuModeName(m));
        if (t.IsDefined()) {
          CheckTokens(t, modes.ChildPath(iommu::IommuModeName(m)), &out->overrides[vendor][m]);
        }
      }
    }
  }

  void ReadSwitch(MapReader& parent, ExperimentSpec* spec) {
    YAML::Node n = parent.Child("switch");
    if (!n.IsDefined()) return;
    SwitchSpec& sw = spec->switch_method;
    std::vector<std::string> method;
    if (n.IsScalar()) {  // "switch: kexec" is short for {method: kexec}
      parent.StringList("switch", &method, kSwitchMethods);
      sw.fallback.clear();
    } else {
      MapReader r(n, "switch", errors_);
      if (!r.valid()) return;
      r.StringList("method", &method, kSwitchMethods, /*required=*/true);
      sw.fallback.clear();
      r.StringList("fallback", &sw.fallback, kSwitchMethods);
      r.Bool("grub_one_shot", &sw.grub_one_shot);
    }
    if (method.size() > 1) AddError(errors_, n, "switch.method", "expected one method");
    if (method.empty()) return;
    sw.method = method[0];
    if (std::find(sw.fallback.begin(), sw.fallback.end(), sw.method) != sw.fallback.end()) {
      AddError(errors_, n, "switch.fallback", "'" + sw.method + "' is already the method");
    }
    bool wants_off = std::find(spec->matrix.iommu.begin(), spec->matrix.iommu.end(),
                               v1::IOMMU_MODE_OFF) != spec->matrix.iommu.end();
    if (sw.method == "sysfs" && wants_off && sw.fallback.empty()) {
      AddError(errors_, n, "switch",
               "sysfs cannot switch a node to iommu off (it needs a reboot); add "
               "'fallback: [kexec]' or 'fallback: [grub]'");
    }
  }

  // One boot per repetition needs a method that reboots: sysfs retypes
  // groups in the running kernel.
  void CheckRebootsPossible(MapReader& top, const ExperimentSpec& spec) {
    if (!spec.order.repetitions_across_boots || spec.repetitions < 2) return;
    bool switches = false;
    for (v1::IommuMode m : spec.matrix.iommu) switches = switches || m != v1::IOMMU_MODE_CURRENT;
    if (!switches || spec.switch_method.method != "sysfs") return;
    for (const std::string& f : spec.switch_method.fallback) {
      if (f != "sysfs") return;
    }
    YAML::Node order = top.Child("order");
    bool explicit_order = order.IsDefined() && order.IsMap() && order["repetitions_across_boots"];
    YAML::Node at = explicit_order ? order["repetitions_across_boots"] : top.Child("switch");
    AddError(errors_, at, explicit_order ? "order.repetitions_across_boots" : "switch",
             "each repetition in its own boot (order.repetitions_across_boots, the default) needs "
             "a switch method that reboots, but sysfs switches in place; add fallback: [kexec] "
             "(or grub), or set order.repetitions_across_boots: false");
  }

  // Another kernel is booted, never switched to in place, and a client is
  // switched with a new boot: both need kexec or grub among the methods.
  void CheckKernelsBootable(MapReader& top, const ExperimentSpec& spec) {
    bool client = spec.nodes.client_iommu != v1::IOMMU_MODE_CURRENT;
    if (spec.matrix.kernel.empty() && !client) return;
    const SwitchSpec& sw = spec.switch_method;
    if (sw.method != "sysfs") return;
    for (const std::string& f : sw.fallback) {
      if (f != "sysfs") return;
    }
    YAML::Node at = top.Child("switch");
    AddError(errors_, at.IsDefined() ? at : top.Child("matrix"), "switch",
             absl::StrCat(spec.matrix.kernel.empty()
                              ? "nodes.client_iommu switches clients with a new boot"
                              : "the kernel axis boots other kernels",
                          ", but sysfs switches in place; add fallback: [kexec] (or grub)"));
  }

  void ReadOrder(MapReader& parent, OrderSpec* out) {
    YAML::Node n = parent.Child("order");
    if (!n.IsDefined()) return;
    MapReader r(n, "order", errors_);
    r.Bool("randomize", &out->randomize);
    r.UInt64("seed", &out->seed, 0, UINT64_MAX);
    r.Bool("repetitions_across_boots", &out->repetitions_across_boots);
  }

  SpecErrors* errors_;
  uint64_t max_runs_;
};

}  // namespace

ParseResult ParseSpec(absl::string_view yaml_text, uint64_t max_runs) {
  ParseResult result;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    SpecError err;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.message = "YAML syntax error: " + e.msg;
    result.errors.push_back(err);
    return result;
  }
  ExperimentSpec spec;
  try {
    Parser parser(&result.errors, max_runs);
    parser.ReadTop(root, &spec);
  } catch (const YAML::Exception& e) {  // defensive: yaml-cpp throws on odd input
    SpecError err;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.message = "cannot read spec: " + e.msg;
    result.errors.push_back(err);
  }
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const SpecError& a, const SpecError& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  if (result.errors.empty()) result.spec = std::move(spec);
  return result;
}

const std::vector<std::string>& TelemetryCollectors() {
  static const auto* names = new std::vector<std::string>{"cpu",     "interrupts", "softirqs",
                                                          "network", "memory",     "iommu_pmu", "iommu_trace"};
  return *names;
}

}  // namespace iommuvm::spec
