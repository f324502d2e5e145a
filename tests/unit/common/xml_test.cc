#include "common/xml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iommuvm {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<XmlElement> r = ParseXml(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(XmlTest, ElementsAttributesTextAndLines) {
  auto r = ParseXml(
      "<?xml version='1.0' encoding='UTF-8'?>\n"
      "<!DOCTYPE domain [ <!ENTITY x 'y'> ]>\n"
      "<domain type='kvm' xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\">\n"
      "  <name>guest-1</name>\n"
      "  <vcpu placement='static'> 4 </vcpu>\n"
      "  <devices>\n"
      "    <iommu model='intel'/>\n"
      "    <iommu model=\"virtio\" ></iommu>\n"
      "  </devices>\n"
      "  <qemu:commandline><qemu:arg value='-device'/></qemu:commandline>\n"
      "</domain>\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "domain");
  EXPECT_EQ(r->line, 3);
  EXPECT_EQ(r->column, 1);
  EXPECT_EQ(r->Attribute("type"), "kvm");
  EXPECT_EQ(r->Attribute("xmlns:qemu"), "http://libvirt.org/schemas/domain/qemu/1.0");
  EXPECT_EQ(r->Attribute("missing", "fallback"), "fallback");
  EXPECT_FALSE(r->HasAttribute("missing"));
  ASSERT_NE(r->Child("name"), nullptr);
  EXPECT_EQ(r->Child("name")->Text(), "guest-1");
  EXPECT_EQ(r->Child("vcpu")->text, " 4 ");
  EXPECT_EQ(r->Child("vcpu")->Text(), "4");
  EXPECT_EQ(r->Child("nothing"), nullptr);
  auto iommus = r->Child("devices")->Children("iommu");
  ASSERT_EQ(iommus.size(), 2u);
  EXPECT_EQ(iommus[0]->Attribute("model"), "intel");
  EXPECT_EQ(iommus[0]->line, 7);
  EXPECT_EQ(iommus[0]->column, 5);
  EXPECT_EQ(iommus[1]->Attribute("model"), "virtio");
  const XmlElement* qemu = r->Child("qemu:commandline");
  ASSERT_NE(qemu, nullptr);  // prefixes are kept as written
  EXPECT_EQ(qemu->Child("qemu:arg")->Attribute("value"), "-device");
}

TEST(XmlTest, EntitiesCharacterReferencesAndCdata) {
  auto r = ParseXml(
      "<a v='&lt;&gt;&amp;&apos;&quot;' w=\"it's\" x='a\tb\nc'>"
      "1 &lt; 2 &#65;&#x42;&#xe9;&#x1F600;<![CDATA[<not> & markup]]></a>");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Attribute("v"), "<>&'\"");
  EXPECT_EQ(r->Attribute("w"), "it's");
  EXPECT_EQ(r->Attribute("x"), "a b c");  // attribute value normalization
  EXPECT_EQ(r->text, "1 < 2 AB\xC3\xA9\xF0\x9F\x98\x80<not> & markup");
}

TEST(XmlTest, CommentsAndWhatTheyCommentOutAreDropped) {
  auto r = ParseXml(
      "<!-- head -->\n"
      "<devices>\n"
      "  <!-- <iommu model='intel'>\n"
      "         <driver caching_mode='on'/>\n"
      "       </iommu> -->\n"
      "  <interface type='network'/><?pi ignored?>\n"
      "</devices>\n"
      "<!-- tail -->\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Child("iommu"), nullptr);
  ASSERT_EQ(r->children.size(), 1u);
  EXPECT_EQ(r->children[0].name, "interface");
  EXPECT_EQ(r->children[0].line, 6);
}

TEST(XmlTest, WindowsLineEndsAndByteOrderMarkAreRead) {
  auto r = ParseXml("\xEF\xBB\xBF<a>\r\n<b/>\r\n</a>\r\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->children[0].line, 2);
  EXPECT_EQ(r->text, "\n\n");
}

TEST(XmlTest, ErrorsSayLineColumnAndWhatWasExpected) {
  EXPECT_EQ(ErrorOf("<domain>\n  <devices>\n    <iommu model='intel'/>\n  </device>\n</domain>"),
            "line 4, column 3: mismatched closing tag </device>, expected </devices> opened at "
            "line 2");
  EXPECT_EQ(ErrorOf("<domain>\n  <devices\n"), "line 3, column 1: expected '>' to close <devices>");
  EXPECT_EQ(ErrorOf("<domain>\n  <devices>\n"),
            "line 3, column 1: unexpected end of file: <devices> opened at line 2 is not closed");
  EXPECT_EQ(ErrorOf("<a>\n</a  x>"), "line 2, column 6: expected '>' to close </a>");
  EXPECT_EQ(ErrorOf("<a x=1/>"),
            "line 1, column 6: expected the value of attribute 'x' in <a> in quotes (' or \")");
  EXPECT_EQ(ErrorOf("<a x></a>"), "line 1, column 5: expected '=' after attribute 'x' in <a>");
  EXPECT_EQ(ErrorOf("<a x='1' x='2'/>"), "line 1, column 10: attribute 'x' appears twice in <a>");
  EXPECT_EQ(ErrorOf("<a x='1'y='2'/>"),
            "line 1, column 9: expected a space before attribute 'y' in <a>");
  EXPECT_EQ(ErrorOf("<a x='<'/>"),
            "line 1, column 7: '<' is not allowed in the value of attribute 'x' in <a> (write "
            "&lt;)");
  EXPECT_EQ(ErrorOf("<a x='1/>"),
            "line 1, column 4: the value of attribute 'x' in <a> is not closed: expected '");
}

TEST(XmlTest, BadReferencesAreRefused) {
  EXPECT_THAT(ErrorOf("<a>&nbsp;</a>"),
              HasSubstr("line 1, column 4: unknown entity '&nbsp;' (XML defines &lt; &gt; "
                        "&amp; &apos; &quot; and &#N;)"));
  EXPECT_THAT(ErrorOf("<a>fish & chips</a>"),
              HasSubstr("line 1, column 9: expected an entity such as &amp;"));
  EXPECT_THAT(ErrorOf("<a>&#0;</a>"), HasSubstr("'&#0;' is not a character XML allows"));
  EXPECT_THAT(ErrorOf("<a>&#xD800;</a>"), HasSubstr("not a character XML allows"));
  EXPECT_THAT(ErrorOf("<a>&#x0x41;</a>"), HasSubstr("not a character XML allows"));
  EXPECT_THAT(ErrorOf("<a>&#12a;</a>"), HasSubstr("not a character XML allows"));
}

TEST(XmlTest, DocumentStructureIsChecked) {
  EXPECT_EQ(ErrorOf(""), "line 1, column 1: the document has no root element");
  EXPECT_EQ(ErrorOf("<!-- only a comment -->\n"),
            "line 2, column 1: the document has no root element");
  EXPECT_EQ(ErrorOf("just text"), "line 1, column 1: expected the root element ('<' and a name)");
  EXPECT_EQ(ErrorOf("<a/>\n<b/>"),
            "line 2, column 1: expected nothing after the root element <a> (opened at line 1); "
            "a document has one root element");
  EXPECT_EQ(ErrorOf("<a>\n<?xml version='1.0'?></a>"),
            "line 2, column 1: the XML declaration <?xml ...?> must be the first thing in the "
            "file");
  EXPECT_EQ(ErrorOf("<a><!-- a -- b --></a>"),
            "line 1, column 11: '--' is not allowed inside a comment (opened at line 1, column 4)");
  EXPECT_EQ(ErrorOf("<a>\n<!-- never closed </a>"),
            "line 2, column 1: comment is not closed: expected '-->'");
  EXPECT_EQ(ErrorOf("<a><![CDATA[ open </a>"),
            "line 1, column 4: CDATA section is not closed: expected ']]>'");
  EXPECT_EQ(ErrorOf("<a>< b/></a>"),
            "line 1, column 4: expected an element name after '<' (a literal '<' is written "
            "&lt;)");
  EXPECT_EQ(ErrorOf("<a>x ]]> y</a>"),
            "line 1, column 6: ']]>' is not allowed in text (write ]]&gt;)");
  EXPECT_EQ(ErrorOf("<a>\x01</a>"), "line 1, column 4: character 0x01 is not allowed in XML");
  EXPECT_EQ(ErrorOf("<a></>"), "line 1, column 6: expected an element name after '</'");
}

TEST(XmlTest, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(ErrorOf("<a>\xC3\xA9\xC3\xA9 & </a>"),
            "line 1, column 7: expected an entity such as &amp; or &#38; after '&' (a literal "
            "'&' is written &amp;)");
}

TEST(XmlTest, ErrorsNameTheFileWhenGiven) {
  auto r = ParseXml("<domain>\n  <devices>\n  </device>\n</domain>", "vm.xml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "vm.xml:3:3: mismatched closing tag </device>, expected </devices> opened at line 2");
  EXPECT_EQ(XmlErrorAt("", 1, 2, "m"), "line 1, column 2: m");
  EXPECT_EQ(XmlErrorAt("f.xml", 1, 2, "m"), "f.xml:1:2: m");
}

TEST(XmlTest, DeepNestingIsRefusedNotACrash) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  EXPECT_THAT(ErrorOf(deep), HasSubstr("elements nest deeper than 256 levels"));
  std::string ok;
  for (int i = 0; i < 200; ++i) ok += "<a>";
  for (int i = 0; i < 200; ++i) ok += "</a>";
  EXPECT_TRUE(ParseXml(ok).ok());
}

}  // namespace
}  // namespace iommuvm
