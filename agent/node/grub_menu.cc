#include "agent/node/grub_menu.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace iommuvm::agent {
namespace {

// A grub script line split into words as grub's own lexer does for these
// lines: '...' literal, "..." with backslash escapes, \x outside quotes.
// grub-mkconfig quotes a title's ' as '\''.
std::vector<std::string> Words(absl::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == absl::string_view::npos) end = line.size();
      word.append(line.data() + i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        word += line[i];
      }
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// A menuentry or submenu: its id (after $menuentry_id_option or --id),
// else its title.
std::string EntryName(const std::vector<std::string>& w) {
  for (size_t i = 2; i + 1 < w.size(); ++i) {
    if (w[i] == "$menuentry_id_option" || w[i] == "--id") return w[i + 1];
  }
  return w.size() > 1 ? w[1] : "";
}

}  // namespace

std::string GrubEntryFor(const std::string& grub_cfg, const std::string& image_basename) {
  struct Block {
    bool entry;  // menuentry (else submenu, or another { } block)
    bool menu;   // menuentry or submenu: part of the path
    std::string name;
    bool recovery;
  };
  std::vector<Block> open;
  std::vector<std::string> found;
  for (absl::string_view raw : absl::StrSplit(grub_cfg, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> w = Words(line);
    if (w.empty()) continue;
    if (w[0] == "}") {
      if (!open.empty()) open.pop_back();
      continue;
    }
    if ((w[0] == "menuentry" || w[0] == "submenu") && w.back() == "{") {
      bool recovery = absl::StrContains(w.size() > 1 ? w[1] : "", "recovery mode") ||
                      absl::StrContains(EntryName(w), "-recovery-");
      open.push_back({w[0] == "menuentry", true, EntryName(w), recovery});
      continue;
    }
    if (w.back() == "{") {  // if/function blocks
      open.push_back({false, false, "", false});
      continue;
    }
    bool linux_line = w[0] == "linux" || w[0] == "linux16" || w[0] == "linuxefi";
    if (!linux_line || w.size() < 2 || open.empty()) continue;
    // The innermost menuentry this line is in.
    const Block* entry = nullptr;
    for (auto it = open.rbegin(); it != open.rend(); ++it) {
      if (it->entry) {
        entry = &*it;
        break;
      }
    }
    if (entry == nullptr || entry->recovery) continue;
    absl::string_view path = w[1];
    size_t slash = path.rfind('/');
    if (slash != absl::string_view::npos) path = path.substr(slash + 1);
    if (path != image_basename) continue;
    std::vector<std::string> names;
    for (const Block& b : open) {
      if (b.menu) names.push_back(b.name);
      if (&b == entry) break;
    }
    found.push_back(absl::StrJoin(names, ">"));
  }
  // The top "simple" entry boots whichever kernel is newest when grub.cfg
  // is made; an entry named for this version ("gnulinux-6.1.0-18-amd64-
  // advanced-<uuid>", "... with Linux 6.1.0-18-amd64") keeps booting it.
  std::string version(absl::StripPrefix(image_basename, "vmlinuz-"));
  for (const std::string& f : found) {
    size_t last = f.rfind('>');  // the entry itself, not its submenu
    if (absl::StrContains(last == std::string::npos ? f : f.substr(last + 1), version)) return f;
  }
  return found.empty() ? "" : found.front();
}

}  // namespace iommuvm::agent
