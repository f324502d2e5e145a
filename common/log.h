#pragma once
// Minimal line-oriented logging to stderr: one line per event, prefixed with
// a UTC timestamp and the component, written atomically.

#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace iommuvm {

// Set once at start, before threads: put before every line's time
// ("INSECURE " on a controller without TLS off loopback).
void SetLogPrefix(absl::string_view prefix);

// Writes "<prefix><time> <component>: <message>\n" to stderr in one write(2).
void LogLine(absl::string_view component, absl::string_view message);

template <typename... Args>
void Log(absl::string_view component, const Args&... args) {
  LogLine(component, absl::StrCat(args...));
}

}  // namespace iommuvm
