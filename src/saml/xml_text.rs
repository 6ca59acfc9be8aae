//! XML 1.0 character, name and reference rules used by the hardened parser:
//! NCName checks, line-end and attribute-value normalisation, references.

use std::borrow::Cow;

use super::error::SamlError;

fn malformed(msg: impl Into<String>) -> SamlError {
    SamlError::XmlMalformed(msg.into())
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || (c as u32) > 0x7F && !c.is_whitespace()
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || c.is_ascii_digit()
        || c == '-'
        || c == '.'
        || c == '\u{B7}'
        || c.is_numeric()
}

/// ASCII bytes allowed in an NCName: 1 = anywhere, 2 = not first.
#[allow(clippy::indexing_slicing)] // i < 128 = the table's length
const ASCII_NAME: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphabetic() || b == b'_' {
            1
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            2
        } else {
            0
        };
        i += 1;
    }
    t
};

fn ascii_class(b: u8) -> u8 {
    ASCII_NAME.get(b as usize).copied().unwrap_or(0)
}

fn check_ncname(s: &str) -> Result<(), SamlError> {
    // Fast path: ASCII names.
    if let Some(&first) = s.as_bytes().first()
        && ascii_class(first) == 1
        && s.bytes().all(|b| ascii_class(b) != 0)
    {
        return Ok(());
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_name_start(c) => {}
        _ => return Err(malformed(format!("invalid name '{s}'"))),
    }
    if chars.all(is_name_char) {
        Ok(())
    } else {
        Err(malformed(format!("invalid name '{s}'")))
    }
}

/// A processing-instruction target: an NCName (no colon, XML Namespaces §7).
pub(super) fn check_pi_target(s: &str) -> Result<(), SamlError> {
    check_ncname(s).map_err(|_| malformed(format!("invalid processing-instruction target '{s}'")))
}

const WS: [char; 4] = [' ', '\t', '\r', '\n'];

/// XML 1.0 [23]: `xml` VersionInfo EncodingDecl? SDDecl? S?, as quick-xml hands over
/// the declaration (without `<?` and `?>`). quick-xml itself reads the pseudo-attributes
/// leniently (missing whitespace, stray characters), which libxml2 refuses.
pub(super) fn check_xml_decl(raw: &str) -> Result<(), SamlError> {
    let bad = |why: &str| malformed(format!("malformed XML declaration: {why}"));
    let mut rest = raw.strip_prefix("xml").ok_or_else(|| bad("no 'xml'"))?;
    let mut names = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(WS);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err(bad("pseudo-attributes must be separated by whitespace"));
        }
        let name_end = trimmed
            .find(|c: char| c == '=' || WS.contains(&c))
            .ok_or_else(|| bad("expected '='"))?;
        let (name, after) = trimmed.split_at(name_end);
        let after = after
            .trim_start_matches(WS)
            .strip_prefix('=')
            .ok_or_else(|| bad("expected '='"))?
            .trim_start_matches(WS);
        let quote = after
            .chars()
            .next()
            .filter(|&c| c == '"' || c == '\'')
            .ok_or_else(|| bad("expected a quoted value"))?;
        let body = after.get(1..).unwrap_or("");
        let close = body.find(quote).ok_or_else(|| bad("unterminated value"))?;
        let value = body.get(..close).unwrap_or("");
        rest = body.get(close + 1..).unwrap_or("");
        let valid = match name {
            "version" => value
                .strip_prefix("1.")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
            "encoding" => {
                value
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            }
            "standalone" => value == "yes" || value == "no",
            _ => return Err(bad("unknown pseudo-attribute")),
        };
        if !valid {
            return Err(bad("invalid value"));
        }
        names.push(name);
    }
    let order_ok = matches!(
        names.as_slice(),
        ["version"]
            | ["version", "encoding"]
            | ["version", "standalone"]
            | ["version", "encoding", "standalone"]
    );
    if !order_ok {
        return Err(bad(
            "expected version, then optional encoding and standalone",
        ));
    }
    Ok(())
}

/// XML 1.0 [40]/[44]: in a start tag every attribute is preceded by whitespace.
/// quick-xml accepts `a="1"b="2"`; this refuses it. `raw` is the tag after its name.
pub(super) fn check_attribute_separation(raw: &[u8]) -> Result<(), SamlError> {
    let mut rest = raw;
    while let Some(open) = memchr::memchr2(b'"', b'\'', rest) {
        let quote = rest.get(open).copied().unwrap_or(b'"');
        let value = rest.get(open + 1..).unwrap_or(&[]);
        let Some(close) = memchr::memchr(quote, value) else {
            return Ok(());
        };
        rest = value.get(close + 1..).unwrap_or(&[]);
        if let Some(&next) = rest.first()
            && !matches!(next, b' ' | b'\t' | b'\r' | b'\n' | b'/')
        {
            return Err(malformed("attributes must be separated by whitespace"));
        }
    }
    Ok(())
}

/// Split `p:local` into its parts, checking both are NCNames.
pub(super) fn split_qname(q: &str) -> Result<(Option<&str>, &str), SamlError> {
    // A byte search: names are short, and ':' is ASCII (a character boundary).
    let colon = q.bytes().position(|b| b == b':');
    match colon.and_then(|i| Some((q.get(..i)?, q.get(i + 1..)?))) {
        Some((p, l)) => {
            check_ncname(p)?;
            check_ncname(l).map_err(|_| {
                SamlError::NamespaceInvalid(format!("invalid qualified name '{q}'"))
            })?;
            Ok((Some(p), l))
        }
        None => {
            check_ncname(q)?;
            Ok((None, q))
        }
    }
}

/// XML 1.0 §2.11 line-end normalisation (borrowed when there is no CR, the usual case).
pub(super) fn normalise_eol(s: &str) -> Cow<'_, str> {
    if !s.contains('\r') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

pub(super) fn check_chars(s: &str) -> Result<(), SamlError> {
    // Fast path: printable ASCII and the three allowed controls (counted rather than
    // short-circuited, so that the loop vectorises).
    if s.bytes().fold(true, |ok, b| {
        ok & ((0x20..0x7F).contains(&b) | (b == b'\t') | (b == b'\n') | (b == b'\r'))
    }) {
        return Ok(());
    }
    match s.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(malformed(format!(
            "character U+{:04X} is not allowed in XML",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// Resolve the name of a reference (`amp`, `#x20`, ...) to its character.
pub(super) fn resolve_reference(name: &str) -> Result<char, SamlError> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(malformed(format!("bad character reference &{name};")));
                }
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                if dec.is_empty() || !dec.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(malformed(format!("bad character reference &{name};")));
                }
                dec.parse::<u32>().ok()
            } else {
                return Err(SamlError::EntityForbidden(name.chars().take(64).collect()));
            };
            let c = code
                .and_then(char::from_u32)
                .ok_or_else(|| malformed(format!("bad character reference &{name};")))?;
            if !is_xml_char(c) {
                return Err(malformed(format!(
                    "character reference &{name}; is not an XML character"
                )));
            }
            c
        }
    };
    Ok(c)
}

/// XML 1.0 §3.3.3 attribute-value normalisation for CDATA attributes (all attributes
/// are CDATA without a DTD): line ends normalised, literal whitespace to spaces,
/// then references resolved (a character reference keeps its character).
pub(super) fn normalise_attribute(raw: &str) -> Result<Cow<'_, str>, SamlError> {
    // One pass for the usual value: printable ASCII without '<' or a reference (the
    // checks below would all pass and leave it unchanged). Counted rather than
    // short-circuited, so that the loop vectorises.
    if raw.bytes().fold(true, |ok, b| {
        ok & ((0x20..0x7F).contains(&b) & (b != b'<') & (b != b'&'))
    }) {
        return Ok(Cow::Borrowed(raw));
    }
    if raw.contains('<') {
        return Err(malformed("'<' in attribute value"));
    }
    if !raw
        .bytes()
        .any(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
    {
        check_chars(raw)?;
        return Ok(Cow::Borrowed(raw));
    }
    let eol = normalise_eol(raw);
    let mut out = String::with_capacity(eol.len());
    let mut rest: &str = &eol;
    while let Some(pos) = rest.find('&') {
        let (before, after) = rest.split_at(pos);
        push_ws_normalised(&mut out, before);
        let after = after.get(1..).unwrap_or("");
        let end = after
            .find(';')
            .ok_or_else(|| malformed("unterminated reference in attribute"))?;
        let name = after.get(..end).unwrap_or("");
        out.push(resolve_reference(name)?);
        rest = after.get(end + 1..).unwrap_or("");
    }
    push_ws_normalised(&mut out, rest);
    check_chars(&out)?;
    Ok(Cow::Owned(out))
}

fn push_ws_normalised(out: &mut String, s: &str) {
    for c in s.chars() {
        out.push(if matches!(c, '\t' | '\n' | '\r') {
            ' '
        } else {
            c
        });
    }
}
