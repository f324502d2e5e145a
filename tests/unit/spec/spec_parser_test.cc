
#include "spec/spec_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "spec/host_parser.h"
#include "spec/matrix.h"
#include "spec/params.h"

namespace iommuvm::spec {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "key.path: message" for each error, in order.
std::vector<std::string> ErrorLines(const ParseResult& r) {
  std::vector<std::string> lines;
  for (const auto& e : r.errors) lines.push_back(e.key_path + ": " + e.message);
  return lines;
}

constexpr char kMinimal[] = R"(name: t
matrix:
  workload: [w]
workloads:
  w:
    app: redis
    generator:
      tests: [get, set]
      requests: 1000
)";

TEST(SpecParserTest, QuickstartParses) {
  ParseResult r = ParseSpec(ReadFile(IOMMUVM_SOURCE_DIR "/experiments/quickstart.yaml"));
  ASSERT_TRUE(r.spec) << (r.errors.empty() ? "" : r.errors[0].Format("quickstart"));
  EXPECT_EQ(r.spec->name, "quickstart");
  EXPECT_EQ(r.spec->repetitions, 3u);
  EXPECT_EQ(r.spec->workloads.at("redis-get").server.max_memory_bytes, 256ull << 20);
  EXPECT_EQ(r.spec->telemetry.interval, absl::Milliseconds(500));
  EXPECT_EQ(ExpandMatrix(*r.spec).size(), 12u);  // 4 workloads x 3
  EXPECT_EQ(r.spec->workloads.at("nginx").generator.tool, "wrk");
  EXPECT_EQ(r.spec->workloads.at("memcached").generator.tool, "memcaslap");
}

TEST(SpecParserTest, DefaultsAndExpansion) {
  ParseResult r = ParseSpec(kMinimal);
  ASSERT_TRUE(r.spec);
  const WorkloadSpec& w = r.spec->workloads.at("w");
  EXPECT_EQ(w.generator.tool, "redis-benchmark");
  EXPECT_EQ(w.generator.tests, (std::vector<std::string>{"get", "set"}));
  EXPECT_EQ(w.generator.requests, 1000u);
  auto runs = ExpandMatrix(*r.spec);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].iommu, v1::IOMMU_MODE_CURRENT);
  EXPECT_EQ(runs[0].vm, "bare-metal");
  EXPECT_EQ(runs[0].repetition, 1u);
}

TEST(SpecParserTest, ExpansionOrderKeepsModesTogether) {
  std::string yaml = std::string(kMinimal) + "repetitions: 2\n";
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  iommu: [strict, off]\n");
  ParseResult r = ParseSpec(yaml);
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  auto runs = ExpandMatrix(*r.spec);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].iommu, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(runs[1].iommu, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(runs[1].repetition, 2u);
  EXPECT_EQ(runs[2].iommu, v1::IOMMU_MODE_OFF);
  for (uint32_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].index, i);
}

TEST(SpecParserTest, YamlSyntaxErrorHasLineAndColumn) {
  ParseResult r = ParseSpec("name: t\nmatrix: [a\n  b: c\n");
  ASSERT_FALSE(r.spec);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_GT(r.errors[0].line, 1);
  EXPECT_GT(r.errors[0].column, 0);
  EXPECT_NE(r.errors[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(SpecParserTest, UnknownKeySuggestsTheClosest) {
  std::string yaml = std::string(kMinimal) + "repetitons: 3\n";
  ParseResult r = ParseSpec(yaml);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 10);
  EXPECT_EQ(r.errors[0].column, 1);
  EXPECT_EQ(r.errors[0].key_path, "repetitons");
  EXPECT_NE(r.errors[0].message.find("did you mean 'repetitions'"), std::string::npos);
}

TEST(SpecParserTest, AdaptiveRepetitions) {
  ParseResult r =
      ParseSpec(std::string(kMinimal) + "repetitions: {min: 3, max: 20, until_ci_below: 2%}\n");
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  EXPECT_EQ(r.spec->repetitions, 3u);
  EXPECT_EQ(r.spec->max_repetitions, 20u);
  EXPECT_DOUBLE_EQ(r.spec->until_ci_below_pct, 2);
  EXPECT_TRUE(r.spec->adaptive());
  ParseResult fixed = ParseSpec(std::string(kMinimal) + "repetitions: 5\n");
  ASSERT_TRUE(fixed.spec);
  EXPECT_FALSE(fixed.spec->adaptive());

  ParseResult bad = ParseSpec(std::string(kMinimal) +
                              "repetitions: {min: 5, max: 4, until_ci_below: 2, maxx: 3}\n");
  ASSERT_FALSE(bad.spec);
  std::string all;
  for (const auto& e : bad.errors) all += e.Format("t") + "\n";
  EXPECT_NE(all.find("repetitions.max: max (4) must be above min (5)"), std::string::npos) << all;
  EXPECT_NE(all.find("repetitions.until_ci_below: expected a percentage above 0 and below 100 "
                     "such as 2%"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("repetitions.maxx"), std::string::npos) << all;
  ParseResult missing = ParseSpec(std::string(kMinimal) + "repetitions: {min: 3}\n");
  ASSERT_FALSE(missing.spec);
  ASSERT_EQ(missing.errors.size(), 2u);
}

TEST(SpecParserTest, HostSectionPerRoleAndPerLabel) {
  ParseResult r = ParseSpec(std::string(kMinimal) + R"(host:
  best_effort: true
  server:
    governor: performance
    turbo: false
    smt: false
    nic: {mtu: 4000, channels: 8, rx_ring: 4096, pause: true, offloads: {lro: false},
          irq_affinity: auto}
  client: {smt: false, irqbalance: false}
  nodes:
    - labels: {hw: c6525}
      server: {cstate_max: 1, nic: {mtu: 9000}}
)");
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  const HostSpec& h = r.spec->host;
  v1::HostSettings r650 = h.For(v1::ROLE_SERVER, {{"hw", "r650"}});
  EXPECT_EQ(DescribeHostSettings(r650),
            "governor=performance turbo=off smt=off nic.mtu=4000 nic.channels=8 "
            "nic.rx_ring=4096 nic.pause=on nic.lro=off nic.irq_affinity=auto");
  EXPECT_TRUE(r650.best_effort());
  v1::HostSettings c6525 = h.For(v1::ROLE_SERVER, {{"hw", "c6525"}});
  EXPECT_EQ(c6525.mtu(), 9000u);
  EXPECT_EQ(c6525.cstate_max(), 1u);
  EXPECT_EQ(c6525.governor(), "performance");
  EXPECT_EQ(DescribeHostSettings(h.For(v1::ROLE_CLIENT, {{"hw", "c6525"}})),
            "smt=off irqbalance=off");

  ParseResult bad = ParseSpec(std::string(kMinimal) + R"(host:
  server: {governor: fast, nic: {mtu: 10, irq_affinity: "x", offloads: {rss: true}}}
  nodes:
    - server: {smt: false}
)");
  ASSERT_FALSE(bad.spec);
  std::string all;
  for (const auto& e : bad.errors) all += e.Format("t") + "\n";
  for (const char* path :
       {"host.server.governor", "host.server.nic.mtu", "host.server.nic.irq_affinity",
        "host.server.nic.offloads.rss", "host.nodes[0].labels"}) {
    EXPECT_NE(all.find(path), std::string::npos) << path << "\n" << all;
  }
}

TEST(SpecParserTest, AllErrorsAreReportedAtOnceWithKeyPaths) {
  ParseResult r = ParseSpec(R"(name: t
matrix:
  iommu: [strcit]
  workload: [w, nope]
workloads:
  w:
    app: redis
    generator:
      clients: zero
      duration: 30s
)");
  ASSERT_FALSE(r.spec);
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0].key_path, "matrix.iommu[0]");
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_EQ(r.errors[0].column, 11);
  EXPECT_NE(r.errors[0].message.find("did you mean 'strict'"), std::string::npos);
  EXPECT_EQ(r.errors[1].key_path, "matrix.workload[1]");
  EXPECT_EQ(r.errors[1].line, 4);
  EXPECT_EQ(r.errors[1].column, 17);
  EXPECT_EQ(r.errors[2].key_path, "workloads.w.generator.clients");
  EXPECT_EQ(r.errors[2].line, 9);
  EXPECT_EQ(r.errors[2].column, 16);
  EXPECT_NE(r.errors[2].message.find("found 'zero'"), std::string::npos);
  EXPECT_EQ(r.errors[3].key_path, "workloads.w.generator.duration");
  EXPECT_NE(r.errors[3].message.find("use 'requests'"), std::string::npos);
}

TEST(SpecParserTest, MissingRequiredKeys) {
  ParseResult r = ParseSpec("description: x\n");
  ASSERT_FALSE(r.spec);
  std::vector<std::string> paths;
  for (const auto& e : r.errors) paths.push_back(e.key_path);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "name"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "workloads"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "matrix"), paths.end());
}

TEST(SpecParserTest, NonMappingDocumentIsAnError) {
  for (const char* doc : {"", "- a\n- b\n", "just text"}) {
    ParseResult r = ParseSpec(doc);
    EXPECT_FALSE(r.spec) << doc;
    EXPECT_FALSE(r.errors.empty()) << doc;
  }
}

TEST(SpecParserTest, BadDurationNamesTheAllowedUnits) {
  std::string yaml = std::string(kMinimal) + "timeouts:\n  run: 10\n";
  ParseResult r = ParseSpec(yaml);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key_path, "timeouts.run");
  EXPECT_EQ(r.errors[0].line, 11);
  EXPECT_NE(r.errors[0].message.find("ms, s, m, h"), std::string::npos);
}

TEST(SpecParserTest, NodeControlKeysRoundTrip) {
  std::string yaml = std::string(kMinimal) + R"(iommu_tokens:
  intel:
    strict: "intel_iommu=on,sm_on iommu.strict=1"
  amd:
    passthrough: "amd_iommu=force_isolation iommu=pt"
extra_cmdline: "mitigations=off"
switch:
  method: sysfs
  fallback: [kexec, grub]
  grub_one_shot: true
order:
  randomize: true
  seed: 42
  repetitions_across_boots: true
)";
  ParseResult r = ParseSpec(yaml);
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  const ExperimentSpec& s = *r.spec;
  EXPECT_EQ(s.iommu_tokens.overrides.at("intel").at(v1::IOMMU_MODE_STRICT),
            "intel_iommu=on,sm_on iommu.strict=1");
  EXPECT_EQ(s.iommu_tokens.overrides.at("amd").at(v1::IOMMU_MODE_PASSTHROUGH),
            "amd_iommu=force_isolation iommu=pt");
  EXPECT_EQ(s.iommu_tokens.extra_cmdline, "mitigations=off");
  EXPECT_EQ(s.switch_method.method, "sysfs");
  EXPECT_EQ(s.switch_method.fallback, (std::vector<std::string>{"kexec", "grub"}));
  EXPECT_TRUE(s.switch_method.grub_one_shot);
  EXPECT_TRUE(s.order.randomize);
  EXPECT_EQ(s.order.seed, 42u);
  EXPECT_TRUE(s.order.repetitions_across_boots);
}

TEST(SpecParserTest, TokenTyposAreCaughtAtTheirPosition) {
  std::string yaml = std::string(kMinimal) + R"(iommu_tokens:
  intel:
    strict: "intel_iommu=on iommu.stict=1"
extra_cmdline: "quiet; reboot"
)";
  ParseResult r = ParseSpec(yaml);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].key_path, "iommu_tokens.intel.strict");
  EXPECT_EQ(r.errors[0].line, 12);
  EXPECT_EQ(r.errors[0].column, 13);
  EXPECT_NE(r.errors[0].message.find("did you mean 'iommu.strict'"), std::string::npos);
  EXPECT_EQ(r.errors[1].key_path, "extra_cmdline");
  EXPECT_EQ(r.errors[1].line, 13);
  EXPECT_NE(r.errors[1].message.find("';' at offset 5"), std::string::npos);
}

TEST(SpecParserTest, SysfsCannotReachOffWithoutAFallback) {
  std::string yaml = std::string(kMinimal) + "switch: sysfs\n";
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  iommu: [off, strict]\n");
  ParseResult r = ParseSpec(yaml);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key_path, "switch");
  EXPECT_NE(r.errors[0].message.find("sysfs cannot switch a node to iommu off"), std::string::npos);
  yaml.replace(yaml.find("switch: sysfs"), 13, "switch: {method: sysfs, fallback: [kexec]}");
  EXPECT_TRUE(ParseSpec(yaml).spec);
}

TEST(SpecParserTest, OrderFlagsAreStrictBooleans) {
  std::string yaml = std::string(kMinimal) + "order:\n  randomize: yes\n";
  ParseResult r = ParseSpec(yaml);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key_path, "order.randomize");
  EXPECT_NE(r.errors[0].message.find("expected true or false, found 'yes'"), std::string::npos);
}

TEST(SpecParserTest, VmsRoundTripAndJoinTheMatrix) {
  std::string yaml = std::string(kMinimal) + R"(vms:
  vf-strict:
    vcpus: 8
    memory: 16GiB
    viommu: intel
    viommu_options: {caching_mode: true, intremap: true, device_iotlb: true, aw_bits: 39}
    guest_iommu: strict
    nic: vfio-vf
    vf_bdf: "0000:3b:00.2"
    kernel: /boot/vmlinuz
    disk: guest.qcow2
)";
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  vm: [bare-metal, vf-strict]\n");
  ParseResult r = ParseSpec(yaml);
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  const VmSpec& vm = r.spec->vms.at("vf-strict");
  EXPECT_EQ(vm.vcpus, 8u);
  EXPECT_EQ(vm.memory_bytes, 16ull << 30);
  EXPECT_EQ(vm.viommu, "intel");
  EXPECT_TRUE(vm.device_iotlb);
  EXPECT_EQ(vm.aw_bits, 39u);
  EXPECT_EQ(vm.guest_iommu, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(vm.nic, "vfio-vf");
  EXPECT_EQ(vm.vf_bdf, "0000:3b:00.2");
  EXPECT_EQ(vm.kernel, "/boot/vmlinuz");
  EXPECT_EQ(ExpandMatrix(*r.spec).size(), 2u);
}

TEST(SpecParserTest, VmCrossFieldChecks) {
  std::string yaml = std::string(kMinimal) + R"(vms:
  vf:
    viommu: intel
    viommu_options: {caching_mode: false}
    nic: vfio-vf
  plain:
    guest_iommu: lazy
)";
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  iommu: [off]\n  vm: [vf, plain, vm3]\n");
  ParseResult r = ParseSpec(yaml);
  std::vector<std::string> got = ErrorLines(r);
  ASSERT_EQ(got.size(), 4u) << ::testing::PrintToString(got);
  EXPECT_NE(got[0].find("matrix.iommu: vm 'vf' passes a VF through"), std::string::npos);
  EXPECT_NE(got[1].find("matrix.vm[2]: 'vm3' is not allowed"), std::string::npos);
  EXPECT_NE(got[2].find("vms.vf.nic: a vfio-vf NIC behind an emulated Intel IOMMU needs"),
            std::string::npos);
  EXPECT_NE(got[3].find("vms.plain.guest_iommu: guest mode lazy needs a viommu"),
            std::string::npos);
}

// VFIO attaches an assigned VF to a domain of its own, whatever the host's
// mode: a VF vm in several host modes would be one point measured thrice.
TEST(SpecParserTest, AVfVmRunsInOneHostMode) {
  std::string yaml = std::string(kMinimal) + R"(vms:
  vf:
    viommu: intel
    guest_iommu: strict
    nic: vfio-vf
  plain: {}
)";
  yaml.replace(yaml.find("matrix:\n"), 8,
               "matrix:\n  iommu: [passthrough, lazy, strict]\n  vm: [plain, vf]\n");
  std::vector<std::string> got = ErrorLines(ParseSpec(yaml));
  ASSERT_EQ(got.size(), 1u) << ::testing::PrintToString(got);
  EXPECT_NE(got[0].find("matrix.iommu: vm 'vf' passes a VF through, and VFIO gives it an IOMMU "
                        "domain of its own whatever the host's mode: host modes passthrough, "
                        "lazy, strict would be one point measured 3 times. Keep one host mode "
                        "for it (exclude {iommu: passthrough, vm: vf}, {iommu: lazy, vm: vf})"),
            std::string::npos)
      << got[0];
  // With those excluded it is valid, and the plain vm keeps all three.
  yaml.replace(yaml.find("  vm: [plain, vf]\n"), 18,
               "  vm: [plain, vf]\n  exclude:\n    - {iommu: passthrough, vm: vf}\n"
               "    - {iommu: lazy, vm: vf}\n");
  ParseResult r = ParseSpec(yaml);
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  EXPECT_EQ(ExpandMatrix(*r.spec).size(), 4u);
}

TEST(SpecParserTest, NestedTranslationIsOfAnAssignedVfBehindVtd) {
  std::string yaml = std::string(kMinimal) + R"(vms:
  nested:
    viommu: intel
    guest_iommu: strict
    nic: vfio-vf
    translation: nested
  virtio:
    viommu: intel
    guest_iommu: strict
    translation: nested
  lv:
    viommu: intel
    guest_iommu: strict
    nic: vfio-vf
    translation: nested
    backend: libvirt
)";
  yaml.replace(yaml.find("matrix:\n"), 8,
               "matrix:\n  iommu: [strict]\n  vm: [nested, virtio, lv]\n");
  std::vector<std::string> got = ErrorLines(ParseSpec(yaml));
  ASSERT_EQ(got.size(), 2u) << ::testing::PrintToString(got);
  EXPECT_NE(got[0].find("vms.virtio.translation: nested translation is of an assigned VF's DMA"),
            std::string::npos)
      << got[0];
  EXPECT_NE(got[1].find("vms.lv.translation: libvirt's <iommu> cannot ask for nested"),
            std::string::npos)
      << got[1];
}

TEST(SpecParserTest, LibvirtBackendAndTemplate) {
  std::string yaml = std::string(kMinimal) + R"(vms:
  generated:
    viommu: intel
    guest_iommu: strict
    backend: libvirt
  templated:
    viommu: intel
    guest_iommu: strict
    libvirt_xml: /etc/iommuvm/guest.xml
  qemu:
    viommu: intel
    guest_iommu: strict
)";
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  vm: [generated, templated, qemu]\n");
  ParseResult r = ParseSpec(yaml);
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  EXPECT_EQ(r.spec->vms.at("generated").backend, "libvirt");
  EXPECT_EQ(r.spec->vms.at("generated").libvirt_xml, "");
  EXPECT_EQ(r.spec->vms.at("templated").backend, "libvirt");  // a template implies it
  EXPECT_EQ(r.spec->vms.at("templated").libvirt_xml, "/etc/iommuvm/guest.xml");
  EXPECT_EQ(r.spec->vms.at("qemu").backend, "qemu");
}

TEST(SpecParserTest, LibvirtCannotDoWhatItHasNoElementFor) {
  std::string yaml = std::string(kMinimal) + R"(vms:
  amd:
    viommu: amd
    guest_iommu: strict
    backend: libvirt
  both:
    backend: qemu
    libvirt_xml: guest.xml
)";
  yaml.replace(yaml.find("matrix:\n"), 8, "matrix:\n  vm: [amd, both]\n");
  std::vector<std::string> got = ErrorLines(ParseSpec(yaml));
  ASSERT_EQ(got.size(), 2u) << ::testing::PrintToString(got);
  EXPECT_NE(got[0].find("vms.amd.viommu: libvirt has no <iommu model='amd'>"), std::string::npos)
      << got[0];
  EXPECT_NE(got[1].find("vms.both.libvirt_xml: a libvirt domain template needs backend: libvirt"),
            std::string::npos)
      << got[1];
}

TEST(SpecParserTest, RateNeedsAnOpenLoopTool) {
  std::string yaml = std::string(kMinimal) + "      rate: 50k/s\n";
  ParseResult r = ParseSpec(yaml);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key_path, "workloads.w.generator.rate");
  EXPECT_NE(r.errors[0].message.find("closed-loop"), std::string::npos);
}

TEST(SpecParserTest, UserAxesIncludeAndExclude) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("matrix:\n"), 8, R"(matrix:
  iommu: [off, strict]
  value_size: [64, 4KiB]
  clients: [16, 256]
  exclude:
    - {iommu: off, clients: "256"}
  include:
    - {iommu: lazy, workload: w, vm: bare-metal, clients: "1"}
)");
  ParseResult r = ParseSpec(yaml);
  ASSERT_TRUE(r.spec) << r.errors[0].Format("t");
  ASSERT_EQ(r.spec->matrix.user_axes.size(), 2u);
  EXPECT_EQ(r.spec->matrix.user_axes[0].first, "value_size");  // file order
  auto runs = ExpandMatrix(*r.spec);
  // 2 modes x 2 sizes x 2 client counts = 8, minus 2 excluded, plus 1 included.
  ASSERT_EQ(runs.size(), 7u);
  for (const auto& run : runs) {
    EXPECT_FALSE(run.iommu == v1::IOMMU_MODE_OFF && run.params.at("clients") == "256");
  }
  EXPECT_EQ(runs.back().iommu, v1::IOMMU_MODE_LAZY);
  EXPECT_EQ(runs.back().params, (std::map<std::string, std::string>{{"clients", "1"}}));
  // Later axes vary fastest: off/64/16, off/4KiB/16, strict/64/16, strict/64/256, ...
  EXPECT_EQ(runs[1].params,
            (std::map<std::string, std::string>{{"clients", "16"}, {"value_size", "4KiB"}}));
  EXPECT_EQ(runs[3].iommu, v1::IOMMU_MODE_STRICT);
  WorkloadSpec applied = ApplyParams(r.spec->workloads.at("w"), runs[3].params);
  EXPECT_EQ(applied.generator.clients, 256u);
  EXPECT_EQ(applied.generator.value_size, 64u);
  EXPECT_EQ(ApplyParams(r.spec->workloads.at("w"), runs[4].params).generator.value_size, 4096u);
}

TEST(SpecParserTest, UserAxisAndPartialPointErrors) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("matrix:\n"), 8, R"(matrix:
  clients: [16, lots]
  value_sise: [64]
  exclude:
    - {iommu: strict}
    - {color: red}
  include:
    - {iommu: lazy}
)");
  ParseResult r = ParseSpec(yaml);
  std::vector<std::string> got = ErrorLines(r);
  ASSERT_EQ(got.size(), 5u) << ::testing::PrintToString(got);
  EXPECT_NE(got[0].find("matrix.clients[1]: 'lots' is not a valid clients"), std::string::npos);
  EXPECT_NE(got[1].find("matrix.value_sise: unknown key 'value_sise'; did you mean 'value_size'"),
            std::string::npos);
  EXPECT_NE(got[2].find("matrix.exclude[0].iommu: 'strict' is not a value of axis iommu"),
            std::string::npos);
  EXPECT_NE(got[3].find("matrix.exclude[1].color: 'color' is not an axis"), std::string::npos);
  EXPECT_NE(got[4].find("matrix.include[0]: an included point needs iommu, workload and vm"),
            std::string::npos);
}

TEST(SpecParserTest, TopLevelKeysRoundTrip) {
  ParseResult r = ParseSpec(R"(name: top
description: every top-level key
labels: {owner: alice, paper: asplos}
matrix:
  iommu: [passthrough, lazy]
  workload: [w]
repetitions: 7
retries: 3
workloads:
  w: {app: redis, generator: {requests: 10}}
timeouts: {prepare: 90s, run: 20m, collect: 45s, boot: 12m}
)");
  ASSERT_TRUE(r.spec) << r.errors[0].Format("top");
  const ExperimentSpec& s = *r.spec;
  EXPECT_EQ(s.description, "every top-level key");
  EXPECT_EQ(s.labels,
            (std::map<std::string, std::string>{{"owner", "alice"}, {"paper", "asplos"}}));
  EXPECT_EQ(s.matrix.iommu,
            (std::vector<v1::IommuMode>{v1::IOMMU_MODE_PASSTHROUGH, v1::IOMMU_MODE_LAZY}));
  EXPECT_EQ(s.repetitions, 7u);
  EXPECT_EQ(s.retries, 3u);
  EXPECT_EQ(s.timeouts.prepare, absl::Seconds(90));
  EXPECT_EQ(s.timeouts.run, absl::Minutes(20));
  EXPECT_EQ(s.timeouts.collect, absl::Seconds(45));
  EXPECT_EQ(s.timeouts.boot, absl::Minutes(12));
  EXPECT_EQ(ExpandMatrix(s).size(), 14u);
}

}  // namespace
}  // namespace iommuvm::spec
