#pragma once
// Turns a run's workload spec into the typed steps agents execute. Step ids
// are derived from the attempt ("a17-start"), so re-sending a step after a
// reconnect is idempotent on the agent.

#include <string>

#include "iommuvm/v1/agent.pb.h"
#include "spec/spec.h"

namespace iommuvm::scheduler {

// kLaunchVm goes to the host of a VM run; kStartServer and kStopServer
// then go to its guest; kCleanup always goes to the host (it stops the
// guest too).
enum class StepKind {
  kSwitchMode,
  kSwitchClient,  // the client node into nodes.client_iommu, before the server's switch
  kVerifyMode,
  kLaunchVm,
  kStartServer,
  kRunLoad,
  kStopServer,
  kCleanup,
};

std::string StepId(int64_t attempt_id, StepKind kind);
// Parses a step id back; false for ids not made by StepId.
bool ParseStepId(const std::string& step_id, int64_t* attempt_id, StepKind* kind);

// Margin the controller waits beyond an agent-side step timeout, so the
// agent's own (more precise) failure message normally arrives first.
inline constexpr absl::Duration kStepTimeoutSlack = absl::Seconds(10);

// The command-line tokens selecting `mode` on a node with `cpu_vendor`
// ("GenuineIntel", "AuthenticAMD"; unknown counts as Intel): the spec's
// iommu_tokens override, else the design's defaults.
// `kernel_release` ("" unknown) picks the tokens that kernel obeys.
std::string ModeTokensFor(const spec::ExperimentSpec& exp, v1::IommuMode mode,
                          const std::string& cpu_vendor, const std::string& kernel_release = "");

// Puts the server node into `mode` with the spec's switch method and fallback.
// `fresh_boot`: reboot even when the node runs the mode already.
// `kernel_release`: the running kernel's, for the mode's tokens; with
// `kernel` (the kernel axis) that kernel is booted and its release counts.
v1::Step SwitchModeStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                        v1::IommuMode mode, const std::string& cpu_vendor, bool fresh_boot = false,
                        const std::string& kernel_release = "",
                        const spec::KernelSpec* kernel = nullptr);
// Puts the client node into nodes.client_iommu (a new boot, never in
// place) before the server's switch: its own step id ("aN-client-switch").
v1::Step ClientSwitchStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                          const std::string& cpu_vendor, const std::string& kernel_release);
// Probes the server node; `expected` CURRENT records without checking;
// with `kernel_release` another kernel is a mismatch.
v1::Step VerifyModeStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                        v1::IommuMode expected, const std::string& kernel_release = "");
v1::Step StartServerStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                         const spec::WorkloadSpec& w);
v1::Step RunLoadStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                     const spec::WorkloadSpec& w, const std::string& host, uint32_t port);
// The guest of a VM run, registering as `guest_id`; the wait is the
// spec's boot timeout.
v1::Step LaunchVmStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                      const spec::VmSpec& vm, const std::string& guest_id);
// The guest's node id: "<host>/<vm name>".
std::string GuestNodeId(const std::string& host, const std::string& vm);

// kStopServer ends a successful attempt; kCleanup stops whatever an ended
// attempt left running (its result is not awaited).
v1::Step StopServerStep(int64_t attempt_id, int64_t run_id, const spec::ExperimentSpec& exp,
                        StepKind kind);

}  // namespace iommuvm::scheduler
