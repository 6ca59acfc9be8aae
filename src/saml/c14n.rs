//! Exclusive XML Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>), with
//! and without comments, including the `InclusiveNamespaces PrefixList`, over the
//! hardened DOM of [`super::xml`].
//!
//! Only what SAML needs: the canonical form of one element subtree (optionally with one
//! descendant subtree removed, as the enveloped-signature transform does), or of a
//! whole document. Namespace context comes from the element's ancestors, but only
//! visibly utilised namespaces (and those named in the PrefixList) are rendered.

use super::xml::{Document, NodeId, NodeKind, XML_NS};
#[cfg(test)]
use super::xml::{Limits, parse};

/// Options of one canonicalization.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Keep comments (`...#WithComments`).
    pub with_comments: bool,
    /// The InclusiveNamespaces PrefixList; `"#default"` names the default namespace.
    pub inclusive_prefixes: &'a [String],
    /// A descendant subtree to leave out (the enveloped signature).
    pub exclude: Option<NodeId>,
}

/// The exclusive canonical form of the subtree rooted at element `apex`.
pub fn canonicalize(doc: &Document, apex: NodeId, opts: &Options<'_>) -> String {
    let mut out = String::with_capacity(4096);
    let mut rendered: Vec<(&str, &str)> = Vec::new();
    Canon { doc, opts }.element(apex, &mut rendered, &mut Scratch::default(), &mut out);
    out
}

/// The exclusive canonical form of a whole document (prolog and epilog comments and
/// processing instructions included, separated by line feeds as the spec requires).
pub fn canonicalize_document(doc: &Document, opts: &Options<'_>) -> String {
    let c = Canon { doc, opts };
    let mut out = String::new();
    for &n in &doc.prolog {
        if c.misc(n, &mut out) {
            out.push('\n');
        }
    }
    let mut rendered = Vec::new();
    c.element(doc.root(), &mut rendered, &mut Scratch::default(), &mut out);
    for &n in &doc.epilog {
        let mut s = String::new();
        if c.misc(n, &mut s) {
            out.push('\n');
            out.push_str(&s);
        }
    }
    out
}

/// Per-element working lists, shared by the whole walk so that they are allocated once
/// (each element is done with them before its children are rendered).
#[derive(Default)]
struct Scratch<'d> {
    needed: Vec<&'d str>,
    decls: Vec<(&'d str, &'d str)>,
    attrs: Vec<super::xml::Attribute<'d>>,
}

fn need<'d>(needed: &mut Vec<&'d str>, p: &'d str) {
    if p != "xml" && !needed.contains(&p) {
        needed.push(p);
    }
}

struct Canon<'d, 'o> {
    doc: &'d Document,
    opts: &'o Options<'o>,
}

impl<'d> Canon<'d, '_> {
    /// Render a comment or PI; false when nothing was rendered.
    fn misc(&self, n: NodeId, out: &mut String) -> bool {
        match self.doc.kind(n) {
            Some(NodeKind::Comment(c)) if self.opts.with_comments => {
                out.push_str("<!--");
                out.push_str(c);
                out.push_str("-->");
                true
            }
            Some(NodeKind::Pi { target, data }) => {
                out.push_str("<?");
                out.push_str(target);
                if !data.is_empty() {
                    out.push(' ');
                    out.push_str(data);
                }
                out.push_str("?>");
                true
            }
            _ => false,
        }
    }

    /// The in-scope declaration of `prefix` at `id`, as borrowed (prefix, uri) strings.
    fn in_scope_decl(&self, id: NodeId, prefix: &str) -> Option<(&'d str, &'d str)> {
        let mut cur = Some(id);
        while let Some(n) = cur {
            if let Some(e) = self.doc.element(n)
                && let Some((p, u)) = e.ns_decls().find(|(p, _)| *p == prefix)
            {
                return if u.is_empty() { None } else { Some((p, u)) };
            }
            cur = self.doc.parent(n);
        }
        None
    }

    fn rendered_uri<'r>(rendered: &[(&'r str, &'r str)], prefix: &str) -> Option<&'r str> {
        rendered
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
    }

    fn element(
        &self,
        id: NodeId,
        rendered: &mut Vec<(&'d str, &'d str)>,
        scratch: &mut Scratch<'d>,
        out: &mut String,
    ) {
        let Some(e) = self.doc.element(id) else {
            return;
        };
        // Prefixes this element needs declared: visibly utilised ones and those in the
        // inclusive PrefixList that are in scope.
        let needed = &mut scratch.needed;
        needed.clear();
        need(needed, e.prefix.unwrap_or(""));
        for a in e.attrs() {
            if let Some(p) = a.prefix {
                need(needed, p);
            }
        }
        for p in self.opts.inclusive_prefixes {
            if p == "#default" {
                need(needed, "");
            } else if let Some((decl, _)) = self.in_scope_decl(id, p) {
                need(needed, decl);
            }
        }

        let decls = &mut scratch.decls;
        decls.clear();
        for &p in needed.iter() {
            let uri = self.doc.lookup_namespace(id, p).unwrap_or("");
            let already = Self::rendered_uri(rendered, p);
            let emit = if p.is_empty() {
                already.unwrap_or("") != uri
            } else {
                !uri.is_empty() && already != Some(uri)
            };
            if emit {
                decls.push((p, uri));
            }
        }
        decls.sort_by(|a, b| a.0.cmp(b.0));

        out.push('<');
        push_qname(out, e.prefix, e.local);
        for &(p, uri) in decls.iter() {
            if p.is_empty() {
                out.push_str(" xmlns=\"");
            } else {
                out.push_str(" xmlns:");
                out.push_str(p);
                out.push_str("=\"");
            }
            escape_attr(out, uri);
            out.push('"');
        }
        let attrs = &mut scratch.attrs;
        attrs.clear();
        attrs.extend(e.attrs());
        attrs.sort_by(|a, b| {
            let an = a.ns.unwrap_or("");
            let bn = b.ns.unwrap_or("");
            an.cmp(bn).then_with(|| a.local.cmp(b.local))
        });
        for a in attrs.iter() {
            out.push(' ');
            let prefix = if a.ns == Some(XML_NS) {
                Some("xml")
            } else {
                a.prefix
            };
            push_qname(out, prefix, a.local);
            out.push_str("=\"");
            escape_attr(out, a.value);
            out.push('"');
        }
        out.push('>');

        let mark = rendered.len();
        rendered.append(decls);
        for &c in e.children {
            if Some(c) == self.opts.exclude {
                continue;
            }
            match self.doc.kind(c) {
                Some(NodeKind::Element(_)) => self.element(c, rendered, scratch, out),
                Some(NodeKind::Text(t)) => escape_text(out, t),
                Some(_) => {
                    self.misc(c, out);
                }
                None => {}
            }
        }
        rendered.truncate(mark);

        out.push_str("</");
        push_qname(out, e.prefix, e.local);
        out.push('>');
    }
}

fn push_qname(out: &mut String, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(local);
}

/// Append `s`, replacing the characters for which `special` gives a replacement. Runs
/// without special characters are copied in one piece (the special characters are all
/// ASCII, so their byte offsets are character boundaries).
fn escape_with(out: &mut String, s: &str, special: impl Fn(u8) -> Option<&'static str>) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if let Some(rep) = special(b) {
            out.push_str(s.get(start..i).unwrap_or(""));
            out.push_str(rep);
            start = i + 1;
        }
    }
    out.push_str(s.get(start..).unwrap_or(""));
}

#[inline]
fn text_special(b: u8) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    }
}

#[inline]
fn attr_special(b: u8) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    }
}

fn escape_text(out: &mut String, s: &str) {
    escape_with(out, s, text_special);
}

fn escape_attr(out: &mut String, s: &str) {
    escape_with(out, s, attr_special);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n_root(s: &str, with_comments: bool, prefixes: &[&str]) -> String {
        let d = parse(s.as_bytes(), &Limits::default()).unwrap();
        let p: Vec<String> = prefixes.iter().map(|s| s.to_string()).collect();
        canonicalize(
            &d,
            d.root(),
            &Options {
                with_comments,
                inclusive_prefixes: &p,
                exclude: None,
            },
        )
    }

    #[test]
    fn drops_unused_namespaces_and_sorts() {
        assert_eq!(
            c14n_root(
                r#"<a:r xmlns:b="urn:b" xmlns:a="urn:a" z="1" b:y="2" a="3"/>"#,
                false,
                &[]
            ),
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" a="3" z="1" b:y="2"></a:r>"#
        );
    }

    #[test]
    fn prefix_list_renders_in_scope_namespace() {
        let doc = r#"<r xmlns:xs="urn:xs"><v type="xs:string">x</v></r>"#;
        let d = parse(doc.as_bytes(), &Limits::default()).unwrap();
        let (v, _) = d.child_elements(d.root()).next().unwrap();
        let p = vec!["xs".to_string()];
        let with = canonicalize(
            &d,
            v,
            &Options {
                inclusive_prefixes: &p,
                ..Default::default()
            },
        );
        assert_eq!(with, r#"<v xmlns:xs="urn:xs" type="xs:string">x</v>"#);
        let without = canonicalize(&d, v, &Options::default());
        assert_eq!(without, r#"<v type="xs:string">x</v>"#);
    }

    #[test]
    fn default_namespace_undeclaration() {
        assert_eq!(
            c14n_root(r#"<r xmlns="urn:d"><c xmlns=""><d/></c></r>"#, false, &[]),
            r#"<r xmlns="urn:d"><c xmlns=""><d></d></c></r>"#
        );
        // xmlns="" with no rendered default above it is not output.
        assert_eq!(
            c14n_root(r#"<r xmlns=""><c/></r>"#, false, &[]),
            "<r><c></c></r>"
        );
    }

    #[test]
    fn comments_and_escaping() {
        assert_eq!(
            c14n_root(
                "<r a='&lt;&quot;&#9;&#xA;&#xD;&gt;'><!--c-->&amp;&gt;&#xD;<![CDATA[<x>]]><?p  d?></r>",
                false,
                &[]
            ),
            "<r a=\"&lt;&quot;&#x9;&#xA;&#xD;>\">&amp;&gt;&#xD;&lt;x&gt;<?p d?></r>"
        );
        assert_eq!(c14n_root("<r><!--c--></r>", true, &[]), "<r><!--c--></r>");
    }

    #[test]
    fn excludes_subtree() {
        let d = parse(b"<r><s>sig</s> <t/></r>", &Limits::default()).unwrap();
        let (s, _) = d.child_elements(d.root()).next().unwrap();
        let out = canonicalize(
            &d,
            d.root(),
            &Options {
                exclude: Some(s),
                ..Default::default()
            },
        );
        assert_eq!(out, "<r> <t></t></r>");
    }
}
