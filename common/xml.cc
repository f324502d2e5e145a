#include "common/xml.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace iommuvm {
namespace {

// Deeper documents are refused: nothing real nests like that, and the tree
// is freed recursively.
constexpr int kMaxDepth = 256;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsNameStart(char c) {
  auto u = static_cast<unsigned char>(c);
  return absl::ascii_isalpha(u) || c == '_' || c == ':' || u >= 0x80;
}
bool IsNameChar(char c) {
  return IsNameStart(c) || absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.';
}

// The characters XML 1.0 allows (its production [2] Char).
bool IsXmlChar(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// XML reads every line end as "\n" (section 2.11), so do we, before
// counting lines.
std::string NormalizeLineEnds(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r') {
      out.push_back(text[i]);
    } else {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    }
  }
  return out;
}

// One pass over the document; every Read* starts at the construct it names.
class Reader {
 public:
  Reader(absl::string_view text, absl::string_view source)
      : text_(NormalizeLineEnds(text)), source_(source) {}

  absl::StatusOr<XmlElement> Document() {
    if (absl::StartsWith(text_, "\xEF\xBB\xBF")) pos_ = 3;  // UTF-8 byte order mark
    if (absl::Status s = CheckCharacters(); !s.ok()) return s;
    if (LookingAt("<?xml") && (IsSpace(Peek(5)) || Peek(5) == '?')) {
      if (absl::Status s = SkipProcessingInstruction(/*first=*/true); !s.ok()) return s;
    }
    bool doctype = false;
    while (true) {  // before the root: comments, PIs, one DOCTYPE
      SkipSpaces();
      if (AtEnd()) return Error("the document has no root element");
      if (LookingAt("<!--")) {
        if (absl::Status s = SkipComment(); !s.ok()) return s;
      } else if (LookingAt("<?")) {
        if (absl::Status s = SkipProcessingInstruction(false); !s.ok()) return s;
      } else if (LookingAt("<!DOCTYPE") && !doctype) {
        doctype = true;
        if (absl::Status s = SkipDoctype(); !s.ok()) return s;
      } else if (Peek() == '<' && IsNameStart(Peek(1))) {
        break;
      } else {
        return Error("expected the root element ('<' and a name)");
      }
    }
    absl::StatusOr<XmlElement> root = Elements();
    if (!root.ok()) return root.status();
    while (true) {  // after it: comments, PIs and whitespace only
      SkipSpaces();
      if (AtEnd()) return root;
      if (LookingAt("<!--")) {
        if (absl::Status s = SkipComment(); !s.ok()) return s;
      } else if (LookingAt("<?")) {
        if (absl::Status s = SkipProcessingInstruction(false); !s.ok()) return s;
      } else {
        return Error(absl::StrCat("expected nothing after the root element <", root->name,
                                  "> (opened at line ", root->line,
                                  "); a document has one root element"));
      }
    }
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool LookingAt(absl::string_view s) const {
    return absl::string_view(text_).substr(pos_, s.size()) == s;
  }
  void Advance(size_t n = 1) {
    for (; n > 0 && pos_ < text_.size(); --n, ++pos_) {
      char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        column_ = 1;
      } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
        ++column_;  // columns count characters, not UTF-8 continuation bytes
      }
    }
  }
  bool SkipSpaces() {
    bool any = false;
    while (!AtEnd() && IsSpace(Peek())) {
      Advance();
      any = true;
    }
    return any;
  }
  absl::Status ErrorAt(int line, int column, absl::string_view message) const {
    return absl::InvalidArgumentError(XmlErrorAt(source_, line, column, message));
  }
  absl::Status Error(absl::string_view message) const { return ErrorAt(line_, column_, message); }

  // Control characters other than tab and line ends are not XML at all.
  absl::Status CheckCharacters() {
    int line = 1, column = 1;
    for (size_t i = pos_; i < text_.size(); ++i) {
      auto c = static_cast<unsigned char>(text_[i]);
      if (c < 0x20 && c != '\t' && c != '\n') {
        return ErrorAt(line, column, absl::StrFormat("character 0x%02x is not allowed in XML", c));
      }
      if (c == '\n') {
        ++line;
        column = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++column;
      }
    }
    return absl::OkStatus();
  }

  absl::Status SkipComment() {
    int line = line_, column = column_;
    Advance(4);  // "<!--"
    while (!AtEnd()) {
      if (LookingAt("--")) {
        if (Peek(2) != '>') {
          return Error(absl::StrCat("'--' is not allowed inside a comment (opened at line ", line,
                                    ", column ", column, ")"));
        }
        Advance(3);
        return absl::OkStatus();
      }
      Advance();
    }
    return ErrorAt(line, column, "comment is not closed: expected '-->'");
  }

  absl::Status SkipProcessingInstruction(bool first) {
    int line = line_, column = column_;
    Advance(2);  // "<?"
    std::string target;
    while (!AtEnd() && IsNameChar(Peek())) {
      target.push_back(Peek());
      Advance();
    }
    if (target.empty()) return Error("expected a processing instruction's name after '<?'");
    if (!first && absl::EqualsIgnoreCase(target, "xml")) {
      return ErrorAt(line, column,
                     "the XML declaration <?xml ...?> must be the first thing in "
                     "the file");
    }
    while (!AtEnd() && !LookingAt("?>")) Advance();
    if (AtEnd())
      return ErrorAt(line, column, absl::StrCat("<?", target, " is not closed: expected '?>'"));
    Advance(2);
    return absl::OkStatus();
  }

  // <!DOCTYPE name ... [internal subset]>: skipped, as libvirt ignores it.
  absl::Status SkipDoctype() {
    int line = line_, column = column_;
    Advance(9);
    int depth = 0;
    char quote = 0;
    while (!AtEnd()) {
      char c = Peek();
      Advance();
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[') {
        ++depth;
      } else if (c == ']') {
        --depth;
      } else if (c == '>' && depth <= 0) {
        return absl::OkStatus();
      }
    }
    return ErrorAt(line, column, "<!DOCTYPE is not closed: expected '>'");
  }

  std::string Name() {
    std::string name;
    while (!AtEnd() && IsNameChar(Peek())) {
      name.push_back(Peek());
      Advance();
    }
    return name;
  }

  // At '&': appends what the entity or character reference stands for.
  absl::Status Reference(std::string* out) {
    size_t end = text_.find(';', pos_);
    absl::string_view ref = end == std::string::npos || end - pos_ > 12
                                ? absl::string_view()
                                : absl::string_view(text_).substr(pos_ + 1, end - pos_ - 1);
    if (ref.empty()) {
      return Error(
          "expected an entity such as &amp; or &#38; after '&' (a literal '&' is "
          "written &amp;)");
    }
    if (ref[0] == '#') {
      uint32_t cp = 0;
      bool hex = ref.size() > 1 && ref[1] == 'x';
      absl::string_view digits = ref.substr(hex ? 2 : 1);
      bool ok = !digits.empty() && digits.size() <= 8;
      for (char d : digits) {
        auto u = static_cast<unsigned char>(d);
        ok = ok && (hex ? absl::ascii_isxdigit(u) : absl::ascii_isdigit(u));
      }
      ok = ok && (hex ? absl::SimpleHexAtoi(digits, &cp) : absl::SimpleAtoi(digits, &cp));
      if (!ok || !IsXmlChar(cp)) {
        return Error(absl::StrCat("'&", ref, ";' is not a character XML allows"));
      }
      AppendUtf8(cp, out);
    } else if (ref == "lt") {
      out->push_back('<');
    } else if (ref == "gt") {
      out->push_back('>');
    } else if (ref == "amp") {
      out->push_back('&');
    } else if (ref == "apos") {
      out->push_back('\'');
    } else if (ref == "quot") {
      out->push_back('"');
    } else {
      return Error(absl::StrCat("unknown entity '&", ref,
                                ";' (XML defines &lt; &gt; &amp; &apos; &quot; and &#N;)"));
    }
    Advance(end + 1 - pos_);
    return absl::OkStatus();
  }

  // At '<' and a name. Sets *closed when the tag ends with "/>".
  absl::StatusOr<XmlElement> StartTag(bool* closed) {
    XmlElement e;
    e.line = line_;
    e.column = column_;
    Advance();
    e.name = Name();
    while (true) {
      bool space = SkipSpaces();
      if (Peek() == '>') {
        Advance();
        *closed = false;
        return e;
      }
      if (LookingAt("/>")) {
        Advance(2);
        *closed = true;
        return e;
      }
      if (AtEnd() || !IsNameStart(Peek())) {
        return Error(absl::StrCat("expected '>' to close <", e.name, ">"));
      }
      int line = line_, column = column_;
      std::string attr = Name();
      if (!space) {
        return ErrorAt(
            line, column,
            absl::StrCat("expected a space before attribute '", attr, "' in <", e.name, ">"));
      }
      if (e.HasAttribute(attr)) {
        return ErrorAt(line, column,
                       absl::StrCat("attribute '", attr, "' appears twice in <", e.name, ">"));
      }
      SkipSpaces();
      if (Peek() != '=') {
        return Error(absl::StrCat("expected '=' after attribute '", attr, "' in <", e.name, ">"));
      }
      Advance();
      SkipSpaces();
      char quote = Peek();
      if (quote != '"' && quote != '\'') {
        return Error(absl::StrCat("expected the value of attribute '", attr, "' in <", e.name,
                                  "> in quotes (' or \")"));
      }
      Advance();
      std::string value;
      while (!AtEnd() && Peek() != quote) {
        char c = Peek();
        if (c == '<') {
          return Error(absl::StrCat("'<' is not allowed in the value of attribute '", attr,
                                    "' in <", e.name, "> (write &lt;)"));
        }
        if (c == '&') {
          if (absl::Status s = Reference(&value); !s.ok()) return s;
          continue;
        }
        value.push_back(c == '\t' || c == '\n' ? ' ' : c);  // attribute value normalization
        Advance();
      }
      if (AtEnd()) {
        return ErrorAt(line, column,
                       absl::StrCat("the value of attribute '", attr, "' in <", e.name,
                                    "> is not closed: expected ", std::string(1, quote)));
      }
      Advance();
      e.attributes.emplace_back(std::move(attr), std::move(value));
    }
  }

  // At the root's '<': the root and everything inside it. Iterative, so
  // depth costs heap rather than stack.
  absl::StatusOr<XmlElement> Elements() {
    std::vector<XmlElement> open;
    while (true) {
      if (open.empty() || (Peek() == '<' && IsNameStart(Peek(1)))) {
        bool closed = false;
        absl::StatusOr<XmlElement> e = StartTag(&closed);
        if (!e.ok()) return e.status();
        if (open.size() >= kMaxDepth) {
          return ErrorAt(e->line, e->column,
                         absl::StrCat("elements nest deeper than ", kMaxDepth, " levels"));
        }
        if (!closed) {
          open.push_back(*std::move(e));
        } else if (open.empty()) {
          return e;
        } else {
          open.back().children.push_back(*std::move(e));
        }
        continue;
      }
      XmlElement& top = open.back();
      if (AtEnd()) {
        return Error(absl::StrCat("unexpected end of file: <", top.name, "> opened at line ",
                                  top.line, " is not closed"));
      }
      if (LookingAt("</")) {
        int line = line_, column = column_;
        Advance(2);
        std::string name = Name();
        if (name.empty()) return Error("expected an element name after '</'");
        if (name != top.name) {
          return ErrorAt(line, column,
                         absl::StrCat("mismatched closing tag </", name, ">, expected </", top.name,
                                      "> opened at line ", top.line));
        }
        SkipSpaces();
        if (Peek() != '>') return Error(absl::StrCat("expected '>' to close </", name, ">"));
        Advance();
        XmlElement done = std::move(open.back());
        open.pop_back();
        if (open.empty()) return done;
        open.back().children.push_back(std::move(done));
      } else if (LookingAt("<!--")) {
        if (absl::Status s = SkipComment(); !s.ok()) return s;
      } else if (LookingAt("<![CDATA[")) {
        int line = line_, column = column_;
        size_t end = text_.find("]]>", pos_ + 9);
        if (end == std::string::npos) {
          return ErrorAt(line, column, "CDATA section is not closed: expected ']]>'");
        }
        top.text.append(text_, pos_ + 9, end - pos_ - 9);
        Advance(end + 3 - pos_);
      } else if (LookingAt("<?")) {
        if (absl::Status s = SkipProcessingInstruction(false); !s.ok()) return s;
      } else if (Peek() == '<') {
        return Error(LookingAt("<!")
                         ? "expected '<!--' or '<![CDATA[' (a DOCTYPE may only come before "
                           "the root element)"
                         : "expected an element name after '<' (a literal '<' is written "
                           "&lt;)");
      } else if (Peek() == '&') {
        if (absl::Status s = Reference(&top.text); !s.ok()) return s;
      } else {
        if (LookingAt("]]>")) return Error("']]>' is not allowed in text (write ]]&gt;)");
        top.text.push_back(Peek());
        Advance();
      }
    }
  }

  const std::string text_;
  const std::string source_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

const XmlElement* XmlElement::Child(absl::string_view child) const {
  for (const XmlElement& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

std::vector<const XmlElement*> XmlElement::Children(absl::string_view child) const {
  std::vector<const XmlElement*> out;
  for (const XmlElement& c : children) {
    if (c.name == child) out.push_back(&c);
  }
  return out;
}

bool XmlElement::HasAttribute(absl::string_view attr) const {
  for (const auto& [k, v] : attributes) {
    if (k == attr) return true;
  }
  return false;
}

std::string XmlElement::Attribute(absl::string_view attr, absl::string_view fallback) const {
  for (const auto& [k, v] : attributes) {
    if (k == attr) return v;
  }
  return std::string(fallback);
}

std::string XmlElement::Text() const { return std::string(absl::StripAsciiWhitespace(text)); }

std::string MarkupEscape(absl::string_view text) {
  std::string out;
  AppendMarkupEscaped(&out, text);
  return out;
}

void AppendMarkupEscaped(std::string* out, absl::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        *out += "&amp;";
        break;
      case '<':
        *out += "&lt;";
        break;
      case '>':
        *out += "&gt;";
        break;
      case '"':
        *out += "&quot;";
        break;
      case '\'':
        *out += "&#39;";
        break;
      default:
        out->push_back(c);
    }
  }
}

XmlElement* XmlElement::MutableChild(absl::string_view child) {
  for (XmlElement& c : children) {
    if (c.name == child) return &c;
  }
  return AddChild(child);
}

XmlElement* XmlElement::AddChild(absl::string_view child) {
  children.emplace_back();
  children.back().name = std::string(child);
  return &children.back();
}

int XmlElement::RemoveChildren(absl::string_view child) {
  size_t before = children.size();
  children.erase(std::remove_if(children.begin(), children.end(),
                                [&](const XmlElement& c) { return c.name == child; }),
                 children.end());
  return static_cast<int>(before - children.size());
}

void XmlElement::SetAttribute(absl::string_view attr, absl::string_view value) {
  for (auto& [name, v] : attributes) {
    if (name == attr) {
      v = std::string(value);
      return;
    }
  }
  attributes.emplace_back(std::string(attr), std::string(value));
}

namespace {

void WriteElement(const XmlElement& e, int depth, std::string* out) {
  std::string indent(2 * depth, ' ');
  absl::StrAppend(out, indent, "<", e.name);
  for (const auto& [name, value] : e.attributes) {
    absl::StrAppend(out, " ", name, "=\"", MarkupEscape(value), "\"");
  }
  std::string text = e.Text();
  if (e.children.empty() && text.empty()) {
    absl::StrAppend(out, "/>\n");
    return;
  }
  if (e.children.empty()) {
    absl::StrAppend(out, ">", MarkupEscape(text), "</", e.name, ">\n");
    return;
  }
  absl::StrAppend(out, ">\n");
  if (!text.empty()) absl::StrAppend(out, indent, "  ", MarkupEscape(text), "\n");
  for (const XmlElement& c : e.children) WriteElement(c, depth + 1, out);
  absl::StrAppend(out, indent, "</", e.name, ">\n");
}

}  // namespace

std::string WriteXml(const XmlElement& root) {
  std::string out;
  WriteElement(root, 0, &out);
  return out;
}

std::string XmlErrorAt(absl::string_view source, int line, int column, absl::string_view message) {
  if (source.empty()) return absl::StrCat("line ", line, ", column ", column, ": ", message);
  return absl::StrCat(source, ":", line, ":", column, ": ", message);
}

absl::StatusOr<XmlElement> ParseXml(absl::string_view text, absl::string_view source) {
  return Reader(text, source).Document();
}

}  // namespace iommuvm
