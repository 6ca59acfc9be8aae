//! A structure-aware XML mutator. It parses the input (with quick-xml, leniently) into a
//! tree that keeps names, attribute values and text *as written*, applies one to three
//! XML-level mutations and serialises the tree again, so that most mutants stay
//! well-formed and get past the parser into the structure and signature checks:
//!
//! attribute values (swapped for IDs, `#ID` references, algorithm URIs, timestamps of the
//! document, or edited), attributes added (`ID`, `xml:id`, `xmlns:*`, ...), removed or
//! copied; elements moved, duplicated, deleted, swapped or wrapped (in
//! `samlp:Extensions`, `saml2:Advice`, `ds:Object`, a fresh `saml2:Assertion`, ...);
//! namespace prefix games (prefix renamed with a fresh declaration, default namespace
//! swapped in, a prefix redeclared to another URI); text split by comments, CDATA
//! sections, processing instructions or character references, and text replaced.

use crate::Rng;

#[derive(Clone, Debug)]
pub enum Node {
    Elem(Elem),
    /// Raw character data as written (entity and character references included).
    Text(Vec<u8>),
    CData(Vec<u8>),
    Comment(Vec<u8>),
    Pi(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Elem {
    pub name: Vec<u8>,
    /// (qualified name, raw value as written between the quotes)
    pub attrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub children: Vec<Node>,
}

#[derive(Clone, Debug)]
pub struct Doc {
    pub prolog: Vec<u8>,
    pub root: Elem,
    pub epilog: Vec<u8>,
}

/// Parse leniently; `None` if the input is not a single-rooted tree quick-xml can read.
pub fn parse(input: &[u8]) -> Option<Doc> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::reader::Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<Elem> = None;
    let mut prolog_end = 0usize;
    let mut epilog_start = input.len();
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let ev = reader.read_event().ok()?;
        match ev {
            Event::Eof => break,
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return None;
                }
                if stack.is_empty() {
                    prolog_end = before;
                }
                let mut attrs = Vec::new();
                for a in s.attributes().with_checks(false) {
                    let a = a.ok()?;
                    attrs.push((a.key.as_ref().to_vec(), a.value.to_vec()));
                }
                let el = Elem {
                    name: s.name().as_ref().to_vec(),
                    attrs,
                    children: Vec::new(),
                };
                if matches!(ev, Event::Start(_)) {
                    stack.push(el);
                } else if let Some(parent) = stack.last_mut() {
                    parent.children.push(Node::Elem(el));
                } else {
                    root = Some(el);
                    epilog_start = usize::try_from(reader.buffer_position()).ok()?;
                }
            }
            Event::End(_) => {
                let el = stack.pop()?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Node::Elem(el));
                } else {
                    root = Some(el);
                    epilog_start = usize::try_from(reader.buffer_position()).ok()?;
                }
            }
            other => {
                let Some(parent) = stack.last_mut() else {
                    continue; // prolog / epilog: kept as raw bytes
                };
                let raw = other.as_ref().to_vec();
                let node = match other {
                    Event::Text(_) => Node::Text(raw),
                    Event::GeneralRef(_) => {
                        let mut t = b"&".to_vec();
                        t.extend_from_slice(&raw);
                        t.push(b';');
                        Node::Text(t)
                    }
                    Event::CData(_) => Node::CData(raw),
                    Event::Comment(_) => Node::Comment(raw),
                    Event::PI(_) => Node::Pi(raw),
                    _ => continue,
                };
                // Merge adjacent text (quick-xml splits at references).
                if let (Node::Text(t), Some(Node::Text(prev))) = (&node, parent.children.last_mut())
                {
                    prev.extend_from_slice(t);
                } else {
                    parent.children.push(node);
                }
            }
        }
    }
    if !stack.is_empty() {
        return None;
    }
    let root = root?;
    Some(Doc {
        prolog: input.get(..prolog_end)?.to_vec(),
        root,
        epilog: input.get(epilog_start..)?.to_vec(),
    })
}

fn write_elem(e: &Elem, out: &mut Vec<u8>) {
    out.push(b'<');
    out.extend_from_slice(&e.name);
    for (k, v) in &e.attrs {
        out.push(b' ');
        out.extend_from_slice(k);
        out.extend_from_slice(b"=\"");
        for &b in v {
            if b == b'"' {
                out.extend_from_slice(b"&quot;");
            } else {
                out.push(b);
            }
        }
        out.push(b'"');
    }
    if e.children.is_empty() {
        out.extend_from_slice(b"/>");
        return;
    }
    out.push(b'>');
    for c in &e.children {
        match c {
            Node::Elem(e) => write_elem(e, out),
            Node::Text(t) => out.extend_from_slice(t),
            Node::CData(t) => {
                out.extend_from_slice(b"<![CDATA[");
                out.extend_from_slice(t);
                out.extend_from_slice(b"]]>");
            }
            Node::Comment(t) => {
                out.extend_from_slice(b"<!--");
                out.extend_from_slice(t);
                out.extend_from_slice(b"-->");
            }
            Node::Pi(t) => {
                out.extend_from_slice(b"<?");
                out.extend_from_slice(t);
                out.extend_from_slice(b"?>");
            }
        }
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(&e.name);
    out.push(b'>');
}

pub fn serialize(d: &Doc) -> Vec<u8> {
    let mut out = d.prolog.clone();
    write_elem(&d.root, &mut out);
    out.extend_from_slice(&d.epilog);
    out
}

type Path = Vec<usize>;

fn elem_paths(e: &Elem, path: &mut Path, out: &mut Vec<Path>) {
    out.push(path.clone());
    for (i, c) in e.children.iter().enumerate() {
        if let Node::Elem(ce) = c {
            path.push(i);
            elem_paths(ce, path, out);
            path.pop();
        }
    }
}

fn all_paths(d: &Doc) -> Vec<Path> {
    let mut out = Vec::new();
    elem_paths(&d.root, &mut Vec::new(), &mut out);
    out
}

fn get<'a>(root: &'a Elem, path: &[usize]) -> Option<&'a Elem> {
    let mut cur = root;
    for &i in path {
        match cur.children.get(i)? {
            Node::Elem(e) => cur = e,
            _ => return None,
        }
    }
    Some(cur)
}

fn get_mut<'a>(root: &'a mut Elem, path: &[usize]) -> Option<&'a mut Elem> {
    let mut cur = root;
    for &i in path {
        match cur.children.get_mut(i)? {
            Node::Elem(e) => cur = e,
            _ => return None,
        }
    }
    Some(cur)
}

/// Every attribute value and text of the document: material to splice elsewhere.
fn harvest(e: &Elem, vals: &mut Vec<Vec<u8>>) {
    for (_, v) in &e.attrs {
        vals.push(v.clone());
        if !v.is_empty() && !v.starts_with(b"#") && !v.contains(&b':') {
            let mut r = b"#".to_vec();
            r.extend_from_slice(v);
            vals.push(r);
        }
    }
    for c in &e.children {
        match c {
            Node::Elem(ce) => harvest(ce, vals),
            Node::Text(t) if t.len() < 200 => vals.push(t.clone()),
            _ => {}
        }
    }
}

/// (prefix, uri) declared anywhere in the document.
fn harvest_ns(e: &Elem, out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    for (k, v) in &e.attrs {
        if let Some(p) = k.strip_prefix(b"xmlns:") {
            out.push((p.to_vec(), v.clone()));
        } else if k == b"xmlns" {
            out.push((Vec::new(), v.clone()));
        }
    }
    for c in &e.children {
        if let Node::Elem(ce) = c {
            harvest_ns(ce, out);
        }
    }
}

const VALUES: &[&str] = &[
    "",
    "admin@acme.example",
    "jane.doe@acme.example",
    "2026-06-01T12:00:00Z",
    "2036-06-01T12:00:00Z",
    "2026-06-01T11:00:00Z",
    "2.0",
    "urn:oasis:names:tc:SAML:2.0:status:Success",
    "urn:oasis:names:tc:SAML:2.0:cm:bearer",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:emailAddress",
    "https://sso.example.test/saml/acme/acs",
    "https://sso.example.test/saml/acme/metadata",
    "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7",
    "_8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
    "urn:oasis:names:tc:SAML:2.0:assertion",
    "urn:oasis:names:tc:SAML:2.0:protocol",
    "http://www.w3.org/2000/09/xmldsig#",
    "http://www.w3.org/XML/1998/namespace",
    "xs",
    "#default xs",
    "#default",
    "&amp;",
    "&#x20;",
    "a&lt;b",
    "#",
    "#xpointer(/)",
    "id",
];

const ATTR_NAMES: &[&str] = &[
    "ID",
    "Id",
    "id",
    "xml:id",
    "URI",
    "Algorithm",
    "PrefixList",
    "Destination",
    "InResponseTo",
    "Recipient",
    "NotBefore",
    "NotOnOrAfter",
    "Version",
    "Format",
    "Method",
    "Name",
    "xmlns",
    "xmlns:saml2",
    "xmlns:saml2p",
    "xmlns:ds",
    "xmlns:xs",
    "xmlns:ec",
    "xml:space",
];

const WRAPPERS: &[(&str, &str, &str)] = &[
    (
        "saml2p:Extensions",
        "saml2p",
        "urn:oasis:names:tc:SAML:2.0:protocol",
    ),
    (
        "saml2:Advice",
        "saml2",
        "urn:oasis:names:tc:SAML:2.0:assertion",
    ),
    ("ds:Object", "ds", "http://www.w3.org/2000/09/xmldsig#"),
    (
        "saml2:Assertion",
        "saml2",
        "urn:oasis:names:tc:SAML:2.0:assertion",
    ),
    (
        "saml2p:Response",
        "saml2p",
        "urn:oasis:names:tc:SAML:2.0:protocol",
    ),
    ("ds:Signature", "ds", "http://www.w3.org/2000/09/xmldsig#"),
    (
        "saml2:Subject",
        "saml2",
        "urn:oasis:names:tc:SAML:2.0:assertion",
    ),
    ("w:Wrap", "w", "urn:example:wrap"),
];

const SPLITTERS: &[&str] = &[
    "<!---->",
    "<!--x-->",
    "<![CDATA[]]>",
    "<?pi?>",
    "&#x2e;",
    "&amp;",
    "\n",
    "\r\n",
    " ",
    ".evil.example",
];

fn pick_bytes(rng: &mut Rng, harvested: &[Vec<u8>]) -> Vec<u8> {
    if !harvested.is_empty() && rng.chance(2) {
        rng.pick(harvested).clone()
    } else {
        rng.pick(VALUES).as_bytes().to_vec()
    }
}

/// A char boundary inside `t` that is not inside an `&...;` reference.
fn split_point(rng: &mut Rng, t: &[u8]) -> usize {
    let mut ok: Vec<usize> = Vec::new();
    let mut in_ref = false;
    for (i, &b) in t.iter().enumerate() {
        if !in_ref && (b & 0xC0) != 0x80 {
            ok.push(i);
        }
        if b == b'&' {
            in_ref = true;
        } else if b == b';' {
            in_ref = false;
        }
    }
    ok.push(t.len());
    *rng.pick(&ok)
}

/// Paths of the element's children that are text, as (element path, child index).
fn text_slots(e: &Elem, path: &mut Path, out: &mut Vec<(Path, usize)>) {
    for (i, c) in e.children.iter().enumerate() {
        match c {
            Node::Text(_) => out.push((path.clone(), i)),
            Node::Elem(ce) => {
                path.push(i);
                text_slots(ce, path, out);
                path.pop();
            }
            _ => {}
        }
    }
}

/// Remove the subtree at `path` (not the root).
fn take(root: &mut Elem, path: &[usize]) -> Option<Elem> {
    let (&last, parent) = path.split_last()?;
    let p = get_mut(root, parent)?;
    if last >= p.children.len() {
        return None;
    }
    match p.children.remove(last) {
        Node::Elem(e) => Some(e),
        other => {
            p.children.insert(last, other);
            None
        }
    }
}

fn insert_somewhere(rng: &mut Rng, d: &mut Doc, node: Node) -> bool {
    let paths = all_paths(d);
    let target = rng.pick(&paths).clone();
    let Some(t) = get_mut(&mut d.root, &target) else {
        return false;
    };
    let at = rng.below(t.children.len() + 1);
    t.children.insert(at, node);
    true
}

fn lookup_ns(root: &Elem, path: &[usize], prefix: &[u8]) -> Option<Vec<u8>> {
    let key: Vec<u8> = if prefix.is_empty() {
        b"xmlns".to_vec()
    } else {
        [b"xmlns:".as_slice(), prefix].concat()
    };
    let mut found = None;
    for depth in 0..=path.len() {
        let e = get(root, path.get(..depth)?)?;
        if let Some((_, v)) = e.attrs.iter().find(|(k, _)| *k == key) {
            found = Some(v.clone());
        }
    }
    found
}

/// One mutation; false when it did not apply (the caller tries another).
fn mutate_once(rng: &mut Rng, d: &mut Doc) -> bool {
    let mut harvested = Vec::new();
    harvest(&d.root, &mut harvested);
    let paths = all_paths(d);
    let path = rng.pick(&paths).clone();
    match rng.below(14) {
        // attribute value replaced or edited
        0 | 1 => {
            let v = pick_bytes(rng, &harvested);
            let Some(e) = get_mut(&mut d.root, &path) else {
                return false;
            };
            if e.attrs.is_empty() {
                return false;
            }
            let i = rng.below(e.attrs.len());
            let slot = &mut e.attrs[i].1;
            match rng.below(3) {
                0 => *slot = v,
                1 => {
                    let at = split_point(rng, slot);
                    slot.splice(at..at, v);
                }
                _ => {
                    let at = split_point(rng, slot);
                    slot.truncate(at);
                }
            }
            true
        }
        // attribute added (or duplicated from elsewhere)
        2 => {
            let name = rng.pick(ATTR_NAMES).as_bytes().to_vec();
            let v = pick_bytes(rng, &harvested);
            let Some(e) = get_mut(&mut d.root, &path) else {
                return false;
            };
            if e.attrs.iter().any(|(k, _)| *k == name) {
                return false;
            }
            let at = rng.below(e.attrs.len() + 1);
            e.attrs.insert(at, (name, v));
            true
        }
        // attribute removed
        3 => {
            let Some(e) = get_mut(&mut d.root, &path) else {
                return false;
            };
            if e.attrs.is_empty() {
                return false;
            }
            let i = rng.below(e.attrs.len());
            e.attrs.remove(i);
            true
        }
        // element moved
        4 | 5 => {
            if path.is_empty() {
                return false;
            }
            let Some(el) = take(&mut d.root, &path) else {
                return false;
            };
            insert_somewhere(rng, d, Node::Elem(el))
        }
        // element duplicated
        6 => {
            let Some(el) = get(&d.root, &path).cloned() else {
                return false;
            };
            insert_somewhere(rng, d, Node::Elem(el))
        }
        // element deleted
        7 => !path.is_empty() && take(&mut d.root, &path).is_some(),
        // element wrapped
        8 => {
            if path.is_empty() {
                return false;
            }
            let (name, prefix, uri) = *rng.pick(WRAPPERS);
            let Some(el) = take(&mut d.root, &path) else {
                return false;
            };
            let mut attrs = vec![(
                format!("xmlns:{prefix}").into_bytes(),
                uri.as_bytes().to_vec(),
            )];
            if rng.chance(2) {
                attrs.push((b"ID".to_vec(), pick_bytes(rng, &harvested)));
            }
            let wrapper = Elem {
                name: name.as_bytes().to_vec(),
                attrs,
                children: vec![Node::Elem(el)],
            };
            let (&last, parent) = match path.split_last() {
                Some(x) => x,
                None => return false,
            };
            let Some(p) = get_mut(&mut d.root, parent) else {
                return false;
            };
            let at = last.min(p.children.len());
            p.children.insert(at, Node::Elem(wrapper));
            true
        }
        // namespace prefix games
        9 => {
            let mut decls = Vec::new();
            harvest_ns(&d.root, &mut decls);
            let snapshot = d.root.clone();
            let Some(e) = get_mut(&mut d.root, &path) else {
                return false;
            };
            let (prefix, local) = match e.name.iter().position(|&b| b == b':') {
                Some(i) => (e.name[..i].to_vec(), e.name[i + 1..].to_vec()),
                None => (Vec::new(), e.name.clone()),
            };
            let uri = lookup_ns(&snapshot, &path, &prefix).unwrap_or_default();
            match rng.below(4) {
                // rename the prefix, declaring the same URI under the new one
                0 => {
                    let fresh: &[u8] = rng.pick(&["p", "saml", "samlp", "ds", "xs"]).as_bytes();
                    e.name = [fresh, b":", &local].concat();
                    e.attrs.push(([b"xmlns:", fresh].concat(), uri));
                }
                // default namespace swap: unprefixed name, xmlns= the URI
                1 => {
                    e.name = local;
                    e.attrs.retain(|(k, _)| k != b"xmlns");
                    e.attrs.push((b"xmlns".to_vec(), uri));
                }
                // redeclare a prefix used in the document to another declared URI
                2 => {
                    if decls.is_empty() {
                        return false;
                    }
                    let (p, _) = rng.pick(&decls).clone();
                    let (_, u) = rng.pick(&decls).clone();
                    let key = if p.is_empty() {
                        b"xmlns".to_vec()
                    } else {
                        [b"xmlns:".as_slice(), &p].concat()
                    };
                    e.attrs.retain(|(k, _)| *k != key);
                    e.attrs.push((key, u));
                }
                // undeclare the default namespace / drop a declaration
                _ => {
                    let before = e.attrs.len();
                    e.attrs.retain(|(k, _)| !k.starts_with(b"xmlns"));
                    if before == e.attrs.len() {
                        e.attrs.push((b"xmlns".to_vec(), Vec::new()));
                    }
                }
            }
            true
        }
        // text split by a comment / CDATA / PI / reference
        10 | 11 => {
            let mut slots = Vec::new();
            text_slots(&d.root, &mut Vec::new(), &mut slots);
            if slots.is_empty() {
                return false;
            }
            let (p, i) = rng.pick(&slots).clone();
            let Some(e) = get_mut(&mut d.root, &p) else {
                return false;
            };
            let Some(Node::Text(t)) = e.children.get_mut(i) else {
                return false;
            };
            let at = split_point(rng, t);
            if rng.chance(3) {
                // the tail as a CDATA section (equal character data)
                let tail = t.split_off(at);
                if tail.contains(&b'&') || tail.windows(3).any(|w| w == b"]]>") {
                    t.extend_from_slice(&tail);
                    return false;
                }
                e.children.insert(i + 1, Node::CData(tail));
            } else {
                let s = rng.pick(SPLITTERS).as_bytes();
                t.splice(at..at, s.iter().copied());
            }
            true
        }
        // text replaced
        12 => {
            let mut slots = Vec::new();
            text_slots(&d.root, &mut Vec::new(), &mut slots);
            if slots.is_empty() {
                return false;
            }
            let (p, i) = rng.pick(&slots).clone();
            let v = pick_bytes(rng, &harvested);
            let Some(e) = get_mut(&mut d.root, &p) else {
                return false;
            };
            if let Some(Node::Text(t)) = e.children.get_mut(i) {
                *t = v;
            }
            true
        }
        // two siblings swapped
        _ => {
            let Some(e) = get_mut(&mut d.root, &path) else {
                return false;
            };
            if e.children.len() < 2 {
                return false;
            }
            let a = rng.below(e.children.len());
            let b = rng.below(e.children.len());
            e.children.swap(a, b);
            a != b
        }
    }
}

/// Apply one to three structural mutations; `None` if the input is not parseable XML.
pub fn mutate(input: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut d = parse(input)?;
    let n = 1 + rng.below(3);
    let mut done = 0;
    for _ in 0..n * 8 {
        if mutate_once(rng, &mut d) {
            done += 1;
            if done == n {
                break;
            }
        }
    }
    (done > 0).then(|| serialize(&d))
}
