#pragma once
// A small, strict XML reader (and a writer) for documents other programs
// write (libvirt domain XMLs). It keeps elements, attributes, text (entities, character
// references and CDATA decoded) and each element's position; it drops
// comments (with whatever they comment out), processing instructions, the
// <?xml ...?> prolog and DOCTYPE. Names are kept as written
// ("qemu:commandline"): prefixes are not resolved against xmlns. A document
// that is not well-formed is refused with its line, column and what was
// expected, as libxml2 (and so libvirt) would refuse it.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iommuvm {

struct XmlElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // in document order
  std::vector<XmlElement> children;                             // elements only
  std::string text;  // this element's own character data (CDATA included), as written
  int line = 0;      // 1-based position of the element's '<'
  int column = 0;

  // The first child element called `name`, or nullptr.
  const XmlElement* Child(absl::string_view name) const;
  std::vector<const XmlElement*> Children(absl::string_view name) const;
  bool HasAttribute(absl::string_view name) const;
  // The attribute's value, or `fallback` when the element has none.
  std::string Attribute(absl::string_view name, absl::string_view fallback = "") const;
  // `text` without surrounding whitespace: "4" for <vcpu> 4 </vcpu>.
  std::string Text() const;

  // Editing, for documents written back (a libvirt template made a run's
  // domain). The first child called `name`, created at the end if absent.
  XmlElement* MutableChild(absl::string_view name);
  // A new last child.
  XmlElement* AddChild(absl::string_view name);
  // Removes every child called `name`; returns how many.
  int RemoveChildren(absl::string_view name);
  // Sets (or adds) an attribute.
  void SetAttribute(absl::string_view name, absl::string_view value);
};

// `text` with & < > " ' escaped: safe as XML or HTML text and attribute
// values alike.
std::string MarkupEscape(absl::string_view text);
// The same, appended to `out` (a big document built without a string per
// value).
void AppendMarkupEscaped(std::string* out, absl::string_view text);

// The element as an indented XML document (no prolog). Text of an element
// with children is dropped unless it is more than whitespace, which a
// domain XML never has; attribute values and text are escaped.
std::string WriteXml(const XmlElement& root);

// "FILE:LINE:COLUMN: message", or "line LINE, column COLUMN: message" when
// `source` is empty: how every XML error names its place.
std::string XmlErrorAt(absl::string_view source, int line, int column, absl::string_view message);

// The document's root element, or InvalidArgument naming the place
// (XmlErrorAt with `source`) and what was expected there.
absl::StatusOr<XmlElement> ParseXml(absl::string_view text, absl::string_view source = "");

}  // namespace iommuvm
