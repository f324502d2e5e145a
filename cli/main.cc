// iommuvm: the command-line client of iommuvm-controller.
#include <unistd.h>

#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  iommuvm::cli::Context ctx{std::cout, std::cerr, iommuvm::cli::GrpcStubFactory(),
                            isatty(STDOUT_FILENO) == 1};
  return iommuvm::cli::RunCli(std::vector<std::string>(argv + 1, argv + argc), ctx);
}
