#include "controller/scheduler/step_builder.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "iommu/cmdline.h"

namespace iommuvm::scheduler {
namespace {

constexpr std::pair<StepKind, const char*> kSuffixes[] = {
    {StepKind::kSwitchMode, "switch"}, {StepKind::kSwitchClient, "client-switch"},
    {StepKind::kVerifyMode, "verify"}, {StepKind::kStartServer, "start"},
    {StepKind::kRunLoad, "load"},      {StepKind::kStopServer, "stop"},
    {StepKind::kCleanup, "cleanup"},   {StepKind::kLaunchVm, "launch"},
};

uint32_t Ms(absl::Duration d) { return static_cast<uint32_t>(absl::ToInt64Milliseconds(d)); }

v1::Step BaseStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                  StepKind kind, absl::Duration timeout) {
  v1::Step step;
  step.set_step_id(StepId(attempt_id, kind));
  step.set_attempt_id(attempt_id);
  step.set_run_id(run_id);
  step.set_timeout_ms(Ms(timeout));
  step.set_telemetry_interval_ms(Ms(exp.telemetry.interval));
  for (const auto& c : exp.telemetry.collectors) step.add_telemetry_collectors(c);
  return step;
}

}  // namespace

std::string StepId(int64_t attempt_id, StepKind kind) {
  for (const auto& [k, suffix] : kSuffixes) {
    if (k == kind) return absl::StrCat("a", attempt_id, "-", suffix);
  }
  return "";
}

bool ParseStepId(const std::string& step_id, int64_t* attempt_id, StepKind* kind) {
  size_t dash = step_id.find('-');
  if (step_id.size() < 3 || step_id[0] != 'a' || dash == std::string::npos) return false;
  if (!absl::SimpleAtoi(step_id.substr(1, dash - 1), attempt_id)) return false;
  std::string suffix = step_id.substr(dash + 1);
  for (const auto& [k, s] : kSuffixes) {
    if (suffix == s) {
      *kind = k;
      return true;
    }
  }
  return false;
}

std::string ModeTokensFor(const spec::ExperimentSpec& exp, v1::IommuMode mode,
                          const std::string& cpu_vendor, const std::string& kernel_release) {
  bool amd = cpu_vendor == "AuthenticAMD";
  auto vendor = exp.iommu_tokens.overrides.find(amd ? "amd" : "intel");
  if (vendor != exp.iommu_tokens.overrides.end()) {
    auto tokens = vendor->second.find(mode);
    if (tokens != vendor->second.end()) return tokens->second;
  }
  return iommu::DefaultIommuTokens(amd ? iommu::CpuVendor::kAmd : iommu::CpuVendor::kIntel, mode,
                                   kernel_release);
}

v1::Step SwitchModeStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                        v1::IommuMode mode, const std::string& cpu_vendor, bool fresh_boot,
                        const std::string& kernel_release, const spec::KernelSpec* kernel) {
  v1::Step step = BaseStep(attempt_id, run_id, exp, StepKind::kSwitchMode, exp.timeouts.boot);
  v1::SwitchMode* s = step.mutable_switch_mode();
  s->set_mode(mode);
  s->set_tokens(ModeTokensFor(
      exp, mode, cpu_vendor,
      kernel != nullptr && !kernel->release.empty() ? kernel->release : kernel_release));
  if (kernel != nullptr) {
    v1::KernelImage* k = s->mutable_kernel();
    k->set_name(kernel->name);
    k->set_release(kernel->release);
    k->set_image(kernel->image);
    k->set_initrd(kernel->initrd);
    k->set_grub_entry(kernel->grub_entry);
  }
  s->set_extra_cmdline(exp.iommu_tokens.extra_cmdline);
  s->add_methods(exp.switch_method.method);
  for (const auto& m : exp.switch_method.fallback) s->add_methods(m);
  s->set_grub_one_shot(exp.switch_method.grub_one_shot);
  s->set_fresh_boot(fresh_boot);
  return step;
}

v1::Step ClientSwitchStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                          const std::string& cpu_vendor, const std::string& kernel_release) {
  v1::Step step = SwitchModeStep(attempt_id, run_id, exp, exp.nodes.client_iommu, cpu_vendor,
                                 /*fresh_boot=*/true, kernel_release);
  step.set_step_id(StepId(attempt_id, StepKind::kSwitchClient));
  return step;
}

v1::Step VerifyModeStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                        v1::IommuMode expected, const std::string& kernel_release) {
  v1::Step step = BaseStep(attempt_id, run_id, exp, StepKind::kVerifyMode, exp.timeouts.prepare);
  step.mutable_verify_mode()->set_expected(expected);
  step.mutable_verify_mode()->set_kernel_release(kernel_release);
  return step;
}

v1::Step StartServerStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                         const spec::WorkloadSpec& w) {
  v1::Step step = BaseStep(attempt_id, run_id, exp, StepKind::kStartServer, exp.timeouts.prepare);
  v1::StartServer* s = step.mutable_start_server();
  s->set_app(w.app);
  s->set_port(w.server.port);
  s->set_io_threads(w.server.io_threads);
  s->set_max_memory_bytes(w.server.max_memory_bytes);
  s->set_threads(w.server.threads);
  s->set_connections(w.server.connections);
  s->set_workers(w.server.workers);
  s->set_keepalive_requests(w.server.keepalive_requests);
  s->set_cores(w.server.cores);
  if (w.generator.file_size > 0) s->add_file_sizes(w.generator.file_size);
  if (w.app == "iperf3") s->set_flows(w.generator.flows);
  if (w.server.preload) {
    // The keys the generator will ask for, in its own naming.
    s->set_preload_keys(std::max<uint64_t>(1, w.generator.keyspace));
    s->set_preload_value_size(w.generator.value_size);
    s->set_preload_key_format(w.generator.tool == "memtier_benchmark" ? "memtier-%d"
                                                                      : "key:%012d");
  }
  return step;
}

v1::Step RunLoadStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                     const spec::WorkloadSpec& w, const std::string& host, uint32_t port) {
  v1::Step step = BaseStep(attempt_id, run_id, exp, StepKind::kRunLoad, exp.timeouts.run);
  v1::RunLoad* l = step.mutable_run_load();
  const spec::GeneratorSpec& g = w.generator;
  l->set_tool(g.tool);
  l->set_app(w.app);
  l->set_target_host(host);
  l->set_target_port(port);
  for (const auto& t : g.tests) l->add_tests(t);
  l->set_clients(g.clients);
  l->set_requests(g.requests);
  l->set_pipeline(g.pipeline);
  l->set_value_size(g.value_size);
  l->set_keyspace(g.keyspace);
  l->set_threads(g.threads);
  l->set_duration_ms(Ms(g.duration));
  l->set_warmup_ms(Ms(g.warmup));
  l->set_ratio(g.ratio);
  l->set_file_size(g.file_size);
  l->set_rate(g.rate);
  l->set_flows(g.flows);
  l->set_congestion(g.congestion);
  l->set_socket_buffer_bytes(g.socket_buffer);
  l->set_write_size_bytes(g.write_size);
  l->set_message_size(g.message_size);
  l->set_cores(g.cores);
  return step;
}

std::string GuestNodeId(const std::string& host, const std::string& vm) {
  return absl::StrCat(host, "/", vm);
}

v1::Step LaunchVmStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                      const spec::VmSpec& vm, const std::string& guest_id) {
  v1::Step step = BaseStep(attempt_id, run_id, exp, StepKind::kLaunchVm, exp.timeouts.boot);
  v1::LaunchVm* l = step.mutable_launch_vm();
  l->set_guest_id(guest_id);
  v1::VmConfig* c = l->mutable_vm();
  c->set_name(vm.name);
  c->set_vcpus(vm.vcpus);
  c->set_memory_bytes(vm.memory_bytes);
  c->set_viommu(vm.viommu);
  c->set_caching_mode(vm.caching_mode);
  c->set_intremap(vm.intremap);
  c->set_device_iotlb(vm.device_iotlb);
  c->set_aw_bits(vm.aw_bits);
  c->set_guest_iommu(vm.guest_iommu);
  c->set_nic(vm.nic);
  c->set_vf_bdf(vm.vf_bdf);
  c->set_kernel(vm.kernel);
  c->set_initrd(vm.initrd);
  c->set_accel(vm.accel);
  c->set_qemu_binary(vm.qemu_binary);
  c->set_pin(vm.pin);
  c->set_hugepages(vm.hugepages);
  c->set_backend(vm.backend);
  c->set_translation(vm.translation);
  c->set_libvirt_xml(vm.libvirt_xml);
  return step;
}

v1::Step StopServerStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                        StepKind kind) {
  v1::Step step = BaseStep(attempt_id, run_id, exp, kind, exp.timeouts.collect);
  step.mutable_stop_server()->set_cleanup(kind == StepKind::kCleanup);
  return step;
}

}  // namespace iommuvm::scheduler
