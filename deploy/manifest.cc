#include "deploy/manifest.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/xml.h"

namespace iommuvm::deploy {
namespace {

// "rs:node" -> "node": the portal prefixes elements inconsistently.
absl::string_view LocalName(absl::string_view name) {
  size_t colon = name.rfind(':');
  return colon == absl::string_view::npos ? name : name.substr(colon + 1);
}

std::vector<const XmlElement*> ChildrenNamed(const XmlElement& e, absl::string_view local) {
  std::vector<const XmlElement*> out;
  for (const XmlElement& c : e.children) {
    if (LocalName(c.name) == local) out.push_back(&c);
  }
  return out;
}

const XmlElement* ChildNamed(const XmlElement& e, absl::string_view local) {
  auto all = ChildrenNamed(e, local);
  return all.empty() ? nullptr : all.front();
}

// "urn:publicid:IDN+utah.cloudlab.us+authority+cm" -> "utah.cloudlab.us".
std::string SiteOf(const std::string& urn) {
  std::vector<std::string> parts = absl::StrSplit(urn, '+');
  return parts.size() >= 2 ? parts[1] : "";
}

struct Lan {
  std::string name;
  std::set<std::string> interfaces;  // interface client_ids
};

}  // namespace

std::string NormalizeMac(const std::string& mac) {
  std::string hex;
  for (char c : mac) {
    if (c == ':' || c == '-' || c == '.') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return "";
    hex += absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  if (hex.size() != 12) return "";
  std::vector<std::string> pairs;
  for (size_t i = 0; i < 12; i += 2) pairs.push_back(hex.substr(i, 2));
  return absl::StrJoin(pairs, ":");
}

absl::StatusOr<std::vector<DeployNode>> ParseManifest(const std::string& xml,
                                                      const ManifestOptions& options) {
  auto doc = ParseXml(xml, options.source);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        doc.status().message(), " (is it the RSpec XML from the portal's Manifest tab?)"));
  }
  if (LocalName(doc->name) != "rspec") {
    return absl::InvalidArgumentError(
        XmlErrorAt(options.source, doc->line, doc->column,
                   absl::StrCat("the root element is <", doc->name,
                                ">, not <rspec>: not a CloudLab manifest")));
  }
  std::vector<const XmlElement*> node_elements = ChildrenNamed(*doc, "node");
  if (node_elements.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.source,
                     ": the manifest has no <node>; copy it from the portal once the "
                     "experiment is ready"));
  }
  // The LANs: <link> elements with their interfaces.
  std::vector<Lan> lans;
  for (const XmlElement* link : ChildrenNamed(*doc, "link")) {
    Lan lan{link->Attribute("client_id"), {}};
    for (const XmlElement* ref : ChildrenNamed(*link, "interface_ref")) {
      lan.interfaces.insert(ref->Attribute("client_id"));
    }
    lans.push_back(std::move(lan));
  }
  std::vector<std::string> lan_names;
  for (const Lan& l : lans) lan_names.push_back(l.name);
  const Lan* chosen = nullptr;
  if (!options.lan.empty()) {
    for (const Lan& l : lans) {
      if (l.name == options.lan) chosen = &l;
    }
    if (chosen == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.source, ": no LAN '", options.lan, "' joins nodes here (LANs: ",
                       lan_names.empty() ? "none" : absl::StrJoin(lan_names, ", "), ")"));
    }
  } else if (lans.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.source, ": nodes are joined by ", lans.size(), " LANs (",
        absl::StrJoin(lan_names, ", "), "); choose the experiment LAN with --lan NAME"));
  } else if (lans.size() == 1) {
    chosen = &lans[0];
  }

  std::vector<DeployNode> nodes;
  std::set<std::string> seen;
  bool any_on_lan = false;
  for (const XmlElement* e : node_elements) {
    DeployNode n;
    n.id = e->Attribute("client_id");
    n.source = absl::StrCat(options.source, ":", e->line);
    if (n.id.empty()) {
      return absl::InvalidArgumentError(
          XmlErrorAt(options.source, e->line, e->column, "a <node> without client_id"));
    }
    if (!seen.insert(n.id).second) {
      return absl::InvalidArgumentError(XmlErrorAt(
          options.source, e->line, e->column, absl::StrCat("node '", n.id, "' appears twice")));
    }
    std::string hardware;
    if (const XmlElement* hw = ChildNamed(*e, "hardware_type")) hardware = hw->Attribute("name");
    if (const XmlElement* vnode = ChildNamed(*e, "vnode"); vnode && hardware.empty()) {
      hardware = vnode->Attribute("hardware_type");
    }
    if (!hardware.empty()) n.labels["hardware"] = hardware;
    std::string site = SiteOf(e->Attribute("component_manager_id"));
    if (!site.empty()) n.labels["site"] = site;
    // Login: one <login> per project member, all on the same host and port.
    std::vector<const XmlElement*> logins;
    if (const XmlElement* services = ChildNamed(*e, "services")) {
      logins = ChildrenNamed(*services, "login");
    }
    const XmlElement* login = nullptr;
    for (const XmlElement* l : logins) {
      if (login == nullptr || (!options.user.empty() && l->Attribute("username") == options.user)) {
        login = l;
      }
    }
    if (login != nullptr) {
      n.host = login->Attribute("hostname");
      if (!absl::SimpleAtoi(login->Attribute("port", "22"), &n.port)) n.port = 22;
      n.user = options.user.empty() ? login->Attribute("username") : options.user;
    } else if (const XmlElement* host = ChildNamed(*e, "host")) {
      n.host = host->Attribute("name");
      n.user = options.user;
    }
    if (n.host.empty()) {
      return absl::InvalidArgumentError(
          XmlErrorAt(options.source, e->line, e->column,
                     absl::StrCat("node '", n.id,
                                  "' has no <login> or <host>: is this the request "
                                  "RSpec rather than the manifest of a running experiment?")));
    }
    for (const XmlElement* iface : ChildrenNamed(*e, "interface")) {
      if (chosen == nullptr || !chosen->interfaces.count(iface->Attribute("client_id"))) continue;
      n.data_mac = NormalizeMac(iface->Attribute("mac_address"));
      if (const XmlElement* ip = ChildNamed(*iface, "ip"))
        n.data_address = ip->Attribute("address");
      any_on_lan = true;
    }
    nodes.push_back(std::move(n));
  }
  if (chosen != nullptr && !any_on_lan) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.source, ": no node has an interface on LAN '", chosen->name, "'"));
  }
  std::string role_error = AssignRoles(&nodes, options.servers, options.clients);
  if (!role_error.empty()) return absl::InvalidArgumentError(role_error);
  return nodes;
}

}  // namespace iommuvm::deploy
