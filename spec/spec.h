#pragma once
// The experiment spec: what a researcher's YAML file means, as plain data.
// Parsed and validated by ParseSpec (spec_parser.h); expanded into runs by
// ExpandMatrix (matrix.h). Defaults here are the documented defaults.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "iommu/mode_names.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::spec {

// Server parameters; which keys apply to which app is in workload_catalog.
struct ServerSpec {
  uint32_t port = 0;                    // 0: the agent picks a free port
  uint32_t io_threads = 1;              // redis io-threads
  uint64_t max_memory_bytes = 0;        // redis maxmemory / memcached -m; 0: app default
  uint32_t threads = 4;                 // memcached worker threads
  uint32_t connections = 4096;          // memcached connection limit
  uint32_t workers = 1;                 // nginx worker processes
  uint32_t keepalive_requests = 10000;  // nginx requests per keep-alive connection
  std::string cores;                    // CPU list to pin the server to ("0-3,8"); "": no pinning
  bool preload = false;                 // redis/memcached: populate the key space before measuring
};

// Load-generator parameters; which keys apply to which tool is in
// workload_catalog. Either `requests` or `duration` bounds a run.
struct GeneratorSpec {
  std::string tool;                                // default: the app's default tool
  std::vector<std::string> tests = {"get"};        // redis-benchmark tests
  uint32_t clients = 50;                           // connections in total
  uint64_t requests = 0;                           // 0: bounded by duration
  absl::Duration duration = absl::ZeroDuration();  // 0: bounded by requests
  absl::Duration warmup = absl::ZeroDuration();    // unmeasured load before the run
  uint32_t pipeline = 1;
  std::string ratio = "1:10";  // set:get (memtier_benchmark, memcaslap)
  uint32_t value_size = 3;     // bytes
  uint64_t keyspace = 0;       // 0: a single key
  uint32_t threads = 0;        // 0: tool default
  uint64_t file_size = 0;      // nginx: size of the file fetched
  uint64_t rate = 0;           // open-loop tools: requests/s in total; sockperf: messages/s
  // iperf3: parallel flows, each its own server and client process on its
  // own port (flow i pinned to the i-th core of `cores` on each side).
  uint32_t flows = 1;
  std::string congestion;      // iperf3 -C: TCP congestion control ("" = the node's default)
  uint64_t socket_buffer = 0;  // iperf3 -w: socket buffer bytes (0 = the kernel's)
  uint64_t write_size = 0;     // iperf3 -l: bytes per write (0 = iperf3's 128 KiB)
  uint32_t message_size = 64;  // sockperf -m: bytes per request and per reply
  std::string cores;           // CPU list to pin the generator to ("" = no pinning)
};

struct WorkloadSpec {
  std::string name;
  std::string app;  // redis | memcached | nginx
  ServerSpec server;
  GeneratorSpec generator;
};

// A guest configuration: the server runs inside this VM (validated and
// planned today; launching VMs is the VM capability).
struct VmSpec {
  std::string name;
  uint32_t vcpus = 2;
  uint64_t memory_bytes = 4ull << 30;
  std::string viommu = "none";  // none | intel | virtio | amd
  bool caching_mode = true;     // intel: needed for VFIO assignment, forces strict
  bool intremap = true;
  bool device_iotlb = false;
  uint32_t aw_bits = 48;  // 39 or 48
  v1::IommuMode guest_iommu = v1::IOMMU_MODE_CURRENT;
  std::string nic = "virtio";  // virtio | vfio-vf
  // vfio-vf: the VF to assign, a PCI address on the server node; "" = a VF
  // of the node's data NIC, enabled and chosen by the agent.
  std::string vf_bdf;
  std::string kernel;
  std::string initrd;
  std::string disk;
  // kvm on testbeds; tcg (emulation) only where asked for: local demos and
  // tests. Its numbers are not comparable with a KVM guest's.
  std::string accel = "kvm";
  std::string qemu_binary;  // "" = the agent's --qemu_binary
  std::string pin;          // vCPUs to host CPUs: "" none, "auto", or a CPU list
  bool hugepages = false;   // guest memory from the host's hugepages
  // Who runs the guest: iommuvm's own QEMU command line, or libvirt (a
  // domain generated from this spec, or the user's `libvirt_xml` template,
  // a path on the server node).
  std::string backend = "qemu";  // qemu | libvirt
  // How an assigned VF's DMA is translated: shadow (QEMU's vIOMMU copies
  // the guest's mappings into the host's VFIO domain) or nested (the host
  // IOMMU walks the guest's first-level tables; iommufd, VT-d nesting).
  std::string translation = "shadow";
  std::string libvirt_xml;
};

// A kernel the kernel axis boots (`kernels:`). A name without an entry is
// an installed release: /boot/vmlinuz-<name> and /boot/initrd.img-<name>.
struct KernelSpec {
  std::string name;
  std::string release;  // what `uname -r` must say once it runs
  std::string image;    // kexec / one-shot grub: the kernel image on the server node
  std::string initrd;   // "" = /boot/initrd.img-<release> when it exists
  std::string
      grub_entry;  // grub: the menu entry (title or id, ">" for submenus); "" = found by image
};

struct PairSpec {
  std::string server;
  std::string client;
};

// Which agents run the experiment: explicit pairs, or any agents whose
// labels match `selector`, at most `count` pairs (0: as many as match).
struct NodesSpec {
  std::vector<PairSpec> pairs;
  std::map<std::string, std::string> selector;
  uint32_t count = 0;
  // The client nodes' own host IOMMU mode (an AMD client translates by
  // default): switched (with a method that reboots) and verified before a
  // run on a client not in it. CURRENT: left as it is, recorded.
  v1::IommuMode client_iommu = v1::IOMMU_MODE_CURRENT;
};

struct TelemetrySpec {
  absl::Duration interval = absl::Seconds(1);
  // Collector names (TelemetryCollectors()); default all of them.
  std::vector<std::string> collectors;
  // A run with a whole interval whose server rate is below this percentage
  // of the run's median is marked unsteady (0: never).
  uint32_t unsteady_below_pct = 50;
};

// The telemetry collectors a spec may name, in reporting order.
const std::vector<std::string>& TelemetryCollectors();

struct TimeoutsSpec {
  absl::Duration prepare = absl::Seconds(60);
  absl::Duration run = absl::Minutes(10);
  absl::Duration collect = absl::Seconds(60);
  absl::Duration boot = absl::Minutes(10);
};

// Per-vendor overrides of the command-line tokens of each mode (defaults:
// DefaultIommuTokens), plus tokens added to every boot.
struct IommuTokensSpec {
  std::map<std::string, std::map<v1::IommuMode, std::string>> overrides;  // "intel"/"amd"
  std::string extra_cmdline;
};

// How a node changes host mode: preferred method and what to try next.
struct SwitchSpec {
  std::string method = "kexec";  // sysfs | kexec | grub
  std::vector<std::string> fallback = {"grub"};
  // grub: boot the new command line once (grub-reboot) and keep the default
  // entry, so a boot that fails falls back on the next power cycle.
  bool grub_one_shot = false;
};

struct OrderSpec {
  bool randomize = false;
  uint64_t seed = 0;
  // Each repetition of a point runs in a different boot of its mode, so
  // confidence intervals include boot-to-boot variance (a node already in
  // the mode reboots into it again for the next repetition).
  bool repetitions_across_boots = true;
};

// A partial point: axis name -> value ("iommu" -> "strict", "clients" -> "16").
using PartialPoint = std::map<std::string, std::string>;

struct MatrixSpec {
  std::vector<v1::IommuMode> iommu = {v1::IOMMU_MODE_CURRENT};
  // The kernel axis: "stock" (what the node ran when its agent first
  // started) or names of `kernels` entries / installed releases. Empty: no
  // kernel axis; a node is measured in whatever kernel it runs.
  std::vector<std::string> kernel;
  std::vector<std::string> workload;
  std::vector<std::string> vm = {"bare-metal"};
  // User axes over workload parameters, in file order (see params.h).
  std::vector<std::pair<std::string, std::vector<std::string>>> user_axes;
  std::vector<PartialPoint> exclude;  // points matching any entry are dropped
  std::vector<PartialPoint> include;  // extra points (iommu, workload, vm given)
};

// The environment of the nodes (`host:`): settings per role, and entries
// that change them on nodes with some labels (applied in file order).
struct HostOverride {
  std::map<std::string, std::string> labels;
  v1::HostSettings server;
  v1::HostSettings client;
};
struct HostSpec {
  v1::HostSettings server;
  v1::HostSettings client;
  std::vector<HostOverride> overrides;
  // The settings for a node of `role` with `labels`.
  v1::HostSettings For(v1::Role role, const std::map<std::string, std::string>& labels) const;
};

struct ExperimentSpec {
  std::string name;
  std::string description;
  std::map<std::string, std::string> labels;
  MatrixSpec matrix;
  // Repetitions of each point; with `max_repetitions` (> repetitions) the
  // least, and the controller adds repetitions of a point until its
  // primary metric's 95% CI half-width is under `until_ci_below_pct`% of
  // its mean, or it has run max_repetitions times.
  uint32_t repetitions = 1;
  uint32_t max_repetitions = 0;   // 0: exactly `repetitions`
  double until_ci_below_pct = 0;  // with max_repetitions
  bool adaptive() const { return max_repetitions > repetitions; }
  std::map<std::string, WorkloadSpec> workloads;
  std::map<std::string, VmSpec> vms;
  std::map<std::string, KernelSpec> kernels;
  NodesSpec nodes;
  TimeoutsSpec timeouts;
  IommuTokensSpec iommu_tokens;
  SwitchSpec switch_method;
  OrderSpec order;
  uint32_t retries = 1;  // extra attempts after a LOST attempt
  TelemetrySpec telemetry;
  HostSpec host;
};

// One point of the matrix times one repetition.
struct RunPoint {
  uint32_t index = 0;
  v1::IommuMode iommu = v1::IOMMU_MODE_CURRENT;
  std::string workload;
  std::string vm;
  uint32_t repetition = 0;                    // 1-based
  std::map<std::string, std::string> params;  // user-axis values of this point
};

}  // namespace iommuvm::spec
