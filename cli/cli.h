#pragma once
// Entry point of the `iommuvm` command: dispatches to the commands.

#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace iommuvm::cli {

// Runs `iommuvm <argv...>` (argv without the program name).
int RunCli(const std::vector<std::string>& argv, Context& ctx);
// A factory dialling the real controller at an address.
StubFactory GrpcStubFactory();

}  // namespace iommuvm::cli
