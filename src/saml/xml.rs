//! Hardened XML parsing into a small arena DOM.
//!
//! quick-xml does the tokenising; this module adds what a security boundary needs:
//! no DTDs (so no entity declarations, no expansion, no external entities), only the
//! five predefined entities and character references, UTF-8 only, limits on size,
//! depth, attributes and node count, XML-Namespaces resolution with its errors, and
//! refusal of duplicate `ID`/`Id`/`xml:id` values anywhere in the document.
//!
//! The DOM keeps what exclusive canonicalization needs: qualified names as written,
//! namespace declarations per element, attribute values after XML attribute-value
//! normalisation, text after line-end normalisation, comments and processing
//! instructions.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::error::SamlError;
use super::xml_text::{
    check_attribute_separation, check_chars, check_pi_target, check_xml_decl, normalise_attribute,
    normalise_eol, resolve_reference, split_qname,
};

/// The namespace bound to the `xml` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Parser limits. The defaults suit SAML protocol messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum input size in bytes (after base64 decoding).
    pub max_bytes: usize,
    /// Maximum element nesting depth.
    pub max_depth: usize,
    /// Maximum attributes (including namespace declarations) on one element.
    pub max_attributes: usize,
    /// Maximum number of nodes (elements, text runs, comments, PIs).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_nodes: 50_000,
        }
    }
}

/// Index of a node in a [`Document`].
pub type NodeId = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Prefix as written (`None` for unprefixed attributes).
    pub prefix: Option<String>,
    pub local: String,
    /// Resolved namespace URI (`None` for unprefixed attributes), shared with the
    /// declaration it comes from.
    pub ns: Option<Arc<str>>,
    /// Value after attribute-value normalisation and reference resolution.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    /// Resolved namespace URI of the element (`None`: no namespace), shared with the
    /// declaration it comes from.
    pub ns: Option<Arc<str>>,
    /// Namespace declarations on this element: (prefix, uri); prefix "" is the default
    /// namespace, uri "" un-declares the default namespace.
    pub ns_decls: Vec<(String, Arc<str>)>,
    pub attrs: Vec<Attribute>,
    pub children: Vec<NodeId>,
}

impl Element {
    /// The qualified name as written.
    pub fn qname(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.local),
            None => self.local.clone(),
        }
    }

    /// True when the element has this namespace URI and local name.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// Value of an unqualified attribute.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// Value of a namespace-qualified attribute.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Element(Element),
    Text(String),
    Comment(String),
    Pi { target: String, data: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub parent: Option<NodeId>,
}

/// A parsed, well-formed, namespace-valid document.
#[derive(Debug, Clone)]
pub struct Document {
    nodes: Vec<Node>,
    root: NodeId,
    /// Comments and PIs before the document element.
    pub prolog: Vec<NodeId>,
    /// Comments and PIs after the document element.
    pub epilog: Vec<NodeId>,
}

impl Document {
    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match self.nodes.get(id).map(|n| &n.kind) {
            Some(NodeKind::Element(e)) => Some(e),
            _ => None,
        }
    }

    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.nodes.get(id).and_then(|n| n.parent)
    }

    /// The element children of an element, in document order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = (NodeId, &Element)> + '_ {
        self.element(id)
            .map(|e| e.children.as_slice())
            .unwrap_or(&[])
            .iter()
            .filter_map(move |&c| self.element(c).map(|e| (c, e)))
    }

    /// Element children with the given namespace and local name.
    pub fn children_named<'a>(
        &'a self,
        id: NodeId,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = (NodeId, &'a Element)> + 'a {
        self.child_elements(id)
            .filter(move |(_, e)| e.is(ns, local))
    }

    /// The first element child with the given name.
    pub fn child_named(&self, id: NodeId, ns: &str, local: &str) -> Option<(NodeId, &Element)> {
        self.child_elements(id).find(|(_, e)| e.is(ns, local))
    }

    /// Every element in the subtree rooted at `id` (including `id`), in document order.
    pub fn descendants(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            if let Some(e) = self.element(n) {
                out.push(n);
                stack.extend(e.children.iter().rev().copied());
            }
        }
        out
    }

    /// True if any comment node lies in the subtree of `id`, skipping the subtree `skip`.
    pub fn has_comment_in(&self, id: NodeId, skip: Option<NodeId>) -> bool {
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            if Some(n) == skip {
                continue;
            }
            match self.nodes.get(n).map(|x| &x.kind) {
                Some(NodeKind::Comment(_)) => return true,
                Some(NodeKind::Element(e)) => stack.extend(e.children.iter().copied()),
                _ => {}
            }
        }
        false
    }

    /// The concatenated character data of an element's subtree.
    pub fn text_content(&self, id: NodeId) -> String {
        let mut out = String::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            match self.nodes.get(n).map(|x| &x.kind) {
                Some(NodeKind::Text(t)) => out.push_str(t),
                Some(NodeKind::Element(e)) => stack.extend(e.children.iter().rev().copied()),
                _ => {}
            }
        }
        out
    }

    /// The namespace URI bound to `prefix` ("" = default) in scope at element `id`.
    /// `None` means unbound (for "" that is "no default namespace").
    pub fn lookup_namespace(&self, id: NodeId, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        let mut cur = Some(id);
        while let Some(n) = cur {
            if let Some(e) = self.element(n)
                && let Some((_, uri)) = e.ns_decls.iter().find(|(p, _)| p == prefix)
            {
                return if uri.is_empty() { None } else { Some(&**uri) };
            }
            cur = self.parent(n);
        }
        None
    }

    /// Every prefix with a namespace declaration in scope at `id` (innermost wins).
    pub fn in_scope_prefixes(&self, id: NodeId) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        let mut cur = Some(id);
        while let Some(n) = cur {
            if let Some(e) = self.element(n) {
                for (p, _) in &e.ns_decls {
                    if !seen.contains(p) {
                        seen.push(p.clone());
                    }
                }
            }
            cur = self.parent(n);
        }
        seen
    }
}

/// Parse `input` under `limits`.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Document, SamlError> {
    if input.len() > limits.max_bytes {
        return Err(SamlError::InputTooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    if input.starts_with(&[0xFE, 0xFF]) || input.starts_with(&[0xFF, 0xFE]) {
        return Err(SamlError::EncodingUnsupported(
            "UTF-16 byte order mark".into(),
        ));
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        SamlError::EncodingUnsupported(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
    })?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    Parser::new(limits).run(text)
}

struct Parser<'l> {
    limits: &'l Limits,
    nodes: Vec<Node>,
    stack: Vec<NodeId>,
    root: Option<NodeId>,
    prolog: Vec<NodeId>,
    epilog: Vec<NodeId>,
    ids: HashSet<String>,
    pending_text: Option<String>,
    seen_decl_position: bool,
    /// The `xml` namespace URI, allocated once per document.
    xml_ns: Arc<str>,
    /// The attributes of the start tag being read (kept to reuse its allocation).
    scratch_attrs: Vec<(Option<String>, String, String)>,
}

fn malformed(msg: impl Into<String>) -> SamlError {
    SamlError::XmlMalformed(msg.into())
}

impl<'l> Parser<'l> {
    fn new(limits: &'l Limits) -> Self {
        Parser {
            limits,
            nodes: Vec::new(),
            stack: Vec::new(),
            root: None,
            prolog: Vec::new(),
            epilog: Vec::new(),
            ids: HashSet::new(),
            pending_text: None,
            seen_decl_position: false,
            xml_ns: Arc::from(XML_NS),
            scratch_attrs: Vec::new(),
        }
    }

    fn run(mut self, text: &str) -> Result<Document, SamlError> {
        // Every node starts at a '<' (elements, comments, PIs) or right before one
        // (text): reserve that many up front instead of growing the arena step by step.
        let tags = text.bytes().filter(|&b| b == b'<').count();
        // Capped, so that a hostile run of '<' cannot make it reserve much.
        self.nodes
            .reserve(tags.saturating_add(1).min(self.limits.max_nodes).min(8192));
        let mut reader = Reader::from_str(text);
        {
            let cfg = reader.config_mut();
            cfg.trim_text(false);
            cfg.check_end_names = true;
            cfg.check_comments = true;
            cfg.expand_empty_elements = false;
            cfg.allow_dangling_amp = false;
            cfg.allow_unmatched_ends = false;
        }
        let mut first_event = true;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| malformed(format!("{e} at byte {}", reader.error_position())))?;
            let is_first = std::mem::replace(&mut first_event, false);
            match event {
                Event::Decl(d) => {
                    if !is_first || self.seen_decl_position {
                        return Err(malformed("XML declaration not at the start"));
                    }
                    self.seen_decl_position = true;
                    check_xml_decl(
                        std::str::from_utf8(&d).map_err(|_| malformed("invalid declaration"))?,
                    )?;
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|e| malformed(e.to_string()))?;
                        let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                        if enc != "utf-8" && enc != "utf8" {
                            return Err(SamlError::EncodingUnsupported(format!(
                                "declared encoding {enc}"
                            )));
                        }
                    }
                    let v = d.version().map_err(|e| malformed(e.to_string()))?;
                    if v.as_ref() != b"1.0" {
                        return Err(malformed("only XML 1.0 is accepted"));
                    }
                }
                Event::DocType(_) => return Err(SamlError::DtdForbidden),
                Event::Start(e) => {
                    self.flush_text()?;
                    self.open(text, &e, false)?;
                }
                Event::Empty(e) => {
                    self.flush_text()?;
                    self.open(text, &e, true)?;
                }
                Event::End(_) => {
                    self.flush_text()?;
                    self.stack.pop();
                }
                Event::Text(t) => {
                    let raw = text_of(text, &t).map_err(|_| malformed("invalid UTF-8 text"))?;
                    let normalised = normalise_eol(raw);
                    check_chars(&normalised)?;
                    if normalised.contains("]]>") {
                        return Err(malformed("']]>' in character data"));
                    }
                    self.push_text(normalised)?;
                }
                Event::GeneralRef(r) => {
                    let name =
                        std::str::from_utf8(&r).map_err(|_| malformed("invalid reference"))?;
                    let c = resolve_reference(name)?;
                    let mut buf = [0u8; 4];
                    self.push_text(Cow::Borrowed(c.encode_utf8(&mut buf)))?;
                }
                Event::CData(t) => {
                    let raw = text_of(text, &t).map_err(|_| malformed("invalid UTF-8 in CDATA"))?;
                    let normalised = normalise_eol(raw);
                    check_chars(&normalised)?;
                    self.push_text(normalised)?;
                }
                Event::Comment(t) => {
                    self.flush_text()?;
                    let raw =
                        text_of(text, &t).map_err(|_| malformed("invalid UTF-8 in comment"))?;
                    let normalised = normalise_eol(raw);
                    check_chars(&normalised)?;
                    self.add_misc(NodeKind::Comment(normalised.into_owned()))?;
                }
                Event::PI(p) => {
                    self.flush_text()?;
                    let target = std::str::from_utf8(p.target())
                        .map_err(|_| malformed("invalid PI target"))?;
                    if target.eq_ignore_ascii_case("xml") {
                        return Err(malformed("XML declaration not at the start"));
                    }
                    check_pi_target(target)?;
                    let data =
                        std::str::from_utf8(p.content()).map_err(|_| malformed("invalid PI"))?;
                    let data = normalise_eol(data.trim_start_matches([' ', '\t', '\r', '\n']));
                    check_chars(&data)?;
                    self.add_misc(NodeKind::Pi {
                        target: target.to_string(),
                        data: data.into_owned(),
                    })?;
                }
                Event::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            return Err(malformed("unclosed element at end of input"));
        }
        let root = self.root.ok_or_else(|| malformed("no document element"))?;
        Ok(Document {
            nodes: self.nodes,
            root,
            prolog: self.prolog,
            epilog: self.epilog,
        })
    }

    fn push_node(&mut self, node: Node) -> Result<NodeId, SamlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(SamlError::TooManyNodes(self.limits.max_nodes));
        }
        self.nodes.push(node);
        let id = self.nodes.len() - 1;
        if let Some(parent) = id_parent(&self.nodes, id)
            && let Some(Node {
                kind: NodeKind::Element(e),
                ..
            }) = self.nodes.get_mut(parent)
        {
            e.children.push(id);
        }
        Ok(id)
    }

    fn push_text(&mut self, s: Cow<'_, str>) -> Result<(), SamlError> {
        if self.stack.is_empty() {
            if s.bytes().all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
                return Ok(());
            }
            return Err(malformed("character data outside the document element"));
        }
        match &mut self.pending_text {
            Some(t) => t.push_str(&s),
            None => self.pending_text = Some(s.into_owned()),
        }
        Ok(())
    }

    fn flush_text(&mut self) -> Result<(), SamlError> {
        if let Some(t) = self.pending_text.take()
            && let Some(&parent) = self.stack.last()
        {
            self.push_node(Node {
                kind: NodeKind::Text(t),
                parent: Some(parent),
            })?;
        }
        Ok(())
    }

    fn add_misc(&mut self, kind: NodeKind) -> Result<(), SamlError> {
        let parent = self.stack.last().copied();
        let id = self.push_node(Node { kind, parent })?;
        if parent.is_none() {
            if self.root.is_none() {
                self.prolog.push(id);
            } else {
                self.epilog.push(id);
            }
        }
        Ok(())
    }

    fn lookup(&self, prefix: &str, own: &[(String, Arc<str>)]) -> Option<Arc<str>> {
        if prefix == "xml" {
            return Some(Arc::clone(&self.xml_ns));
        }
        if let Some((_, uri)) = own.iter().find(|(p, _)| p == prefix) {
            return if uri.is_empty() {
                None
            } else {
                Some(Arc::clone(uri))
            };
        }
        for &n in self.stack.iter().rev() {
            if let Some(Node {
                kind: NodeKind::Element(e),
                ..
            }) = self.nodes.get(n)
                && let Some((_, uri)) = e.ns_decls.iter().find(|(p, _)| p == prefix)
            {
                return if uri.is_empty() {
                    None
                } else {
                    Some(Arc::clone(uri))
                };
            }
        }
        None
    }

    fn open(&mut self, input: &str, start: &BytesStart<'_>, empty: bool) -> Result<(), SamlError> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(malformed("more than one document element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(SamlError::DepthExceeded(self.limits.max_depth));
        }
        let qname = text_of(input, start.name().into_inner())
            .map_err(|_| malformed("invalid element name"))?;
        let (prefix, local) = split_qname(qname)?;
        check_attribute_separation(start.attributes_raw())?;

        let mut ns_decls: Vec<(String, Arc<str>)> = Vec::new();
        let mut raw_attrs = std::mem::take(&mut self.scratch_attrs);
        raw_attrs.clear();
        let mut count = 0usize;
        let mut attributes = start.attributes();
        attributes.with_checks(true);
        for attr in attributes {
            let attr = attr.map_err(|e| malformed(format!("attribute: {e}")))?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(SamlError::TooManyAttributes(self.limits.max_attributes));
            }
            let key = text_of(input, attr.key.into_inner())
                .map_err(|_| malformed("invalid attribute name"))?;
            let raw =
                text_of(input, &attr.value).map_err(|_| malformed("invalid attribute value"))?;
            let value = normalise_attribute(raw)?;
            let (ap, al) = split_qname(key)?;
            match (ap.as_deref(), al.as_str()) {
                (None, "xmlns") => {
                    if value == XML_NS || value == XMLNS_NS {
                        return Err(SamlError::NamespaceInvalid(format!(
                            "default namespace may not be {value}"
                        )));
                    }
                    ns_decls.push((String::new(), Arc::from(value)));
                }
                (Some("xmlns"), p) => {
                    if p == "xmlns" {
                        return Err(SamlError::NamespaceInvalid(
                            "the xmlns prefix may not be declared".into(),
                        ));
                    }
                    if p == "xml" {
                        if value != XML_NS {
                            return Err(SamlError::NamespaceInvalid(
                                "the xml prefix is fixed".into(),
                            ));
                        }
                        continue;
                    }
                    if value.is_empty() {
                        return Err(SamlError::NamespaceInvalid(format!(
                            "prefix '{p}' bound to an empty URI"
                        )));
                    }
                    if value == XML_NS || value == XMLNS_NS {
                        return Err(SamlError::NamespaceInvalid(format!(
                            "prefix '{p}' bound to a reserved URI"
                        )));
                    }
                    ns_decls.push((p.to_string(), Arc::from(value)));
                }
                _ => raw_attrs.push((ap, al, value)),
            }
        }

        let ns =
            match &prefix {
                Some(p) => Some(self.lookup(p, &ns_decls).ok_or_else(|| {
                    SamlError::NamespaceInvalid(format!("undeclared prefix '{p}'"))
                })?),
                None => self.lookup("", &ns_decls),
            };
        let mut attrs = Vec::with_capacity(raw_attrs.len());
        for (ap, al, value) in raw_attrs.drain(..) {
            let ans = match &ap {
                Some(p) => Some(self.lookup(p, &ns_decls).ok_or_else(|| {
                    SamlError::NamespaceInvalid(format!("undeclared prefix '{p}'"))
                })?),
                None => None,
            };
            if attrs
                .iter()
                .any(|a: &Attribute| a.local == al && a.ns == ans)
            {
                return Err(SamlError::NamespaceInvalid(format!(
                    "attribute '{al}' appears twice"
                )));
            }
            let is_id = (ans.is_none() && (al == "ID" || al == "Id"))
                || (ans.as_deref() == Some(XML_NS) && al == "id");
            if is_id && !self.ids.insert(value.clone()) {
                return Err(SamlError::DuplicateId(value));
            }
            attrs.push(Attribute {
                prefix: ap,
                local: al,
                ns: ans,
                value,
            });
        }

        self.scratch_attrs = raw_attrs;
        let parent = self.stack.last().copied();
        let id = self.push_node(Node {
            kind: NodeKind::Element(Element {
                prefix,
                local,
                ns,
                ns_decls,
                attrs,
                children: Vec::new(),
            }),
            parent,
        })?;
        if parent.is_none() {
            self.root = Some(id);
        }
        if !empty {
            self.stack.push(id);
        }
        Ok(())
    }
}

/// `bytes` as a string. quick-xml hands out slices of the input, which was checked to
/// be UTF-8 as a whole: such a slice is taken from the input string by its offset (a
/// bounds and character-boundary check, no second validation). Anything else is
/// validated.
fn text_of<'a>(input: &'a str, bytes: &'a [u8]) -> Result<&'a str, std::str::Utf8Error> {
    let start = (bytes.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
    match input.get(start..start.wrapping_add(bytes.len())) {
        Some(s) if s.as_ptr() == bytes.as_ptr() => Ok(s),
        _ => std::str::from_utf8(bytes),
    }
}

fn id_parent(nodes: &[Node], id: NodeId) -> Option<NodeId> {
    nodes.get(id).and_then(|n| n.parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Document, SamlError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn parses_namespaces_and_attributes() {
        let d = p(r#"<a:r xmlns:a="urn:a" xmlns="urn:d" x="1&amp;&#x41;" a:y="t&#9;u v"><c/>t&lt;x</a:r>"#).unwrap();
        let r = d.element(d.root()).unwrap();
        assert!(r.is("urn:a", "r"));
        assert_eq!(r.attr("x"), Some("1&A"));
        assert_eq!(r.attr_ns("urn:a", "y"), Some("t\tu v"));
        let (c, ce) = d.child_elements(d.root()).next().unwrap();
        assert!(ce.is("urn:d", "c"));
        assert_eq!(d.parent(c), Some(d.root()));
        assert_eq!(d.text_content(d.root()), "t<x");
    }

    #[test]
    fn refuses_what_libxml2_refuses_in_declarations_tags_and_pis() {
        // Found by the xmlsec1 verdict differential (single-byte mutants): quick-xml
        // reads these leniently; libxml2 (and the XML spec) refuse them.
        for bad in [
            r#"<?xml version="1.0""?><a/>"#,
            r#"<?xml version="1.0"encoding="UTF-8"?><a/>"#,
            r#"<?xml version="1.0" e0coding="UTF-8"?><a/>"#,
            r#"<?xml version="1.0" enc>ding="UTF-8"?><a/>"#,
            r#"<?xml version="1.0" encoding="UTF-8" x?><a/>"#,
            r#"<?xml encoding="UTF-8" version="1.0"?><a/>"#,
            r#"<?xml version='1.0' standalone="maybe"?><a/>"#,
            r#"<?<ml version="1.0"?><a/>"#,
            r#"<?xml>version="1.0"?><a/>"#,
            r#"<?a:b x?><a/>"#,
            r#"<a x="1"y="2"/>"#,
            r#"<a x='1'y='2'></a>"#,
        ] {
            assert_eq!(p(bad).unwrap_err().code(), "xml_malformed", "{bad}");
        }
        for good in [
            r#"<?xml version="1.0"?><a/>"#,
            "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<a/>",
            r#"<?xml version="1.0" standalone="no"?><a x="1" y='2'/>"#,
            "<a x=\"1\"\ty=\"2\"\n/><?pi data?>",
            r#"<a x="1"/>"#,
        ] {
            assert!(p(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn refuses_dtd_and_entities() {
        assert_eq!(
            p("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").unwrap_err(),
            SamlError::DtdForbidden
        );
        assert_eq!(p("<a>&x;</a>").unwrap_err().code(), "entity_forbidden");
        assert_eq!(p("<a b='&x;'/>").unwrap_err().code(), "entity_forbidden");
    }

    #[test]
    fn refuses_bad_encodings() {
        assert_eq!(
            p("<?xml version='1.0' encoding='ISO-8859-1'?><a/>")
                .unwrap_err()
                .code(),
            "encoding_unsupported"
        );
        assert_eq!(
            parse(&[0x3c, 0x61, 0xff, 0x2f, 0x3e], &Limits::default())
                .unwrap_err()
                .code(),
            "encoding_unsupported"
        );
        assert_eq!(
            parse(&[0xff, 0xfe, 0x3c, 0], &Limits::default())
                .unwrap_err()
                .code(),
            "encoding_unsupported"
        );
    }

    #[test]
    fn enforces_limits() {
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(p(&deep).unwrap_err().code(), "depth_exceeded");
        let attrs: String = (0..100).map(|i| format!(" a{i}='x'")).collect();
        assert_eq!(
            p(&format!("<a{attrs}/>")).unwrap_err().code(),
            "too_many_attributes"
        );
        let big = "x".repeat(300 * 1024);
        assert_eq!(
            p(&format!("<a>{big}</a>")).unwrap_err().code(),
            "input_too_large"
        );
        let many = "<b/>".repeat(60_000);
        let lim = Limits {
            max_bytes: 10 << 20,
            ..Limits::default()
        };
        assert_eq!(
            parse(format!("<a>{many}</a>").as_bytes(), &lim)
                .unwrap_err()
                .code(),
            "too_many_nodes"
        );
    }

    #[test]
    fn refuses_duplicate_ids_and_namespace_errors() {
        assert_eq!(
            p("<a ID='x'><b ID='x'/></a>").unwrap_err().code(),
            "duplicate_id"
        );
        assert_eq!(
            p("<a Id='x'><b ID='x'/></a>").unwrap_err().code(),
            "duplicate_id"
        );
        assert_eq!(p("<a:b/>").unwrap_err().code(), "namespace_invalid");
        assert_eq!(
            p("<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>")
                .unwrap_err()
                .code(),
            "namespace_invalid"
        );
        assert_eq!(
            p("<a xmlns:p=''/>").unwrap_err().code(),
            "namespace_invalid"
        );
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "text<a/>",
            "<a b='1' b='2'/>",
            "<a>&#0;</a>",
            "<a><!-- x -- y --></a>",
            "<a>]]></a>",
            "",
            "<a>&</a>",
        ] {
            let err = p(bad).unwrap_err();
            assert!(
                matches!(err.code(), "xml_malformed" | "namespace_invalid"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn normalises_line_ends_and_attribute_whitespace() {
        let d = p("<a x='1\r\n2\t3&#xA;4'>l1\r\nl2\rl3</a>").unwrap();
        let r = d.element(d.root()).unwrap();
        assert_eq!(r.attr("x"), Some("1 2 3\n4"));
        assert_eq!(d.text_content(d.root()), "l1\nl2\nl3");
    }
}
