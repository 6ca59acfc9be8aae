//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), parsed into an AST whose
//! attribute paths are already resolved against a [`ResourceSchema`].
//!
//! Grammar (keywords and attribute names case-insensitive; precedence `not` > `and` >
//! `or`, RFC errata 4670):
//!
//! ```text
//! FILTER    = orExp
//! orExp     = andExp *(SP "or" SP andExp)
//! andExp    = unary *(SP "and" SP unary)
//! unary     = "not" *SP "(" FILTER ")" / "(" FILTER ")" / valuePath / attrExp
//! valuePath = attrPath "[" valFilter "]"          ; valFilter = FILTER without valuePath
//! attrExp   = attrPath SP "pr" / attrPath SP compareOp SP compValue
//! attrPath  = [URI ":"] ATTRNAME ["." subAttr]
//! compValue = false / null / true / number / string   ; JSON literals
//! PATH      = attrPath / valuePath ["." subAttr]        ; PATCH only
//! ```
//!
//! Unknown attributes, unknown schema URNs, comparing a complex attribute, ordering
//! operators on booleans and mistyped literals are errors (400 `invalidFilter`), never a
//! filter that silently matches nothing. `ne v` is parsed as `not (eq v)` (so it also
//! matches resources without the attribute), `eq null` as `not (pr)` and `ne null` as `pr`.
//! Booleans may be written `"True"`/`"False"` (as Entra does).

use std::fmt;

use serde_json::Number;

use super::lex::{Tok, lex};
use super::schema::{AttrType, Attribute, Extension, ResourceSchema};

pub use super::eval::matches;

/// A filter or PATCH path that cannot be parsed or resolved (400 `invalidFilter`, or
/// `invalidPath` for PATCH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    /// 1-based character position in the input, when known.
    pub position: Option<usize>,
}

impl FilterError {
    pub(crate) fn at(message: impl Into<String>, position: Option<usize>) -> Self {
        FilterError {
            message: message.into(),
            position,
        }
    }

    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self::at(message, None)
    }

    /// The SCIM `scimType` for a filter error.
    pub fn scim_type(&self) -> &'static str {
        "invalidFilter"
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{} (at character {p})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FilterError {}

/// A resolved attribute path. At the top level `attr` is a core or extension attribute
/// and `sub` an optional sub-attribute; inside a value filter (`emails[type eq "work"]`)
/// `attr` is a sub-attribute of the filtered attribute, `extension` and `sub` are `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttrPath {
    pub extension: Option<&'static Extension>,
    pub attr: &'static Attribute,
    pub sub: Option<&'static Attribute>,
}

impl AttrPath {
    /// The attribute whose values are compared (the sub-attribute if any).
    pub fn target(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.extension {
            write!(f, "{}:", e.urn)?;
        }
        f.write_str(self.attr.name)?;
        if let Some(s) = self.sub {
            write!(f, ".{}", s.name)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison literal (after type coercion: booleans are `Bool` even if sent as strings).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(Number),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare(AttrPath, CompareOp, CompValue),
    Present(AttrPath),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    /// `attr[filter]`: some value of the complex attribute satisfies `filter`, whose
    /// paths are relative to one value.
    ValuePath(AttrPath, Box<Filter>),
}

/// A PATCH `path` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    /// `userName`, `name.familyName`, `emails`, `urn:…:enterprise:2.0:User:manager.value`.
    Attr(AttrPath),
    /// `members[value eq "x"]`, `emails[type eq "work"].value`. `filter` applies to one
    /// element of `path` (its paths are sub-attributes): `matches(filter, element, schema)`.
    Filtered {
        path: AttrPath,
        filter: Filter,
        sub: Option<&'static Attribute>,
    },
    /// The whole extension object, e.g. `urn:…:enterprise:2.0:User`.
    Extension(&'static Extension),
}

/// Parse a `filter` query parameter for resources of `schema`.
pub fn parse_filter(input: &str, schema: &'static ResourceSchema) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input, schema)?;
    let f = p.or_exp(Ctx::Root, 0)?;
    p.expect_end()?;
    Ok(f)
}

/// Parse a PATCH operation's `path`.
pub fn parse_path(input: &str, schema: &'static ResourceSchema) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(input, schema)?;
    let (word, pos) = match p.next() {
        Some((Tok::Word(w), pos)) => (w, pos),
        _ => return Err(FilterError::at("expected an attribute path", Some(1))),
    };
    if let Some(ext) = schema.extension(&word) {
        p.expect_end()?;
        return Ok(PatchPath::Extension(ext));
    }
    let path = resolve_root(&word, schema, pos)?;
    if !p.eat(&Tok::Open('[')) {
        p.expect_end()?;
        return Ok(PatchPath::Attr(path));
    }
    let filter = match p.value_filter(path, pos, 0)? {
        Filter::ValuePath(_, inner) => *inner,
        other => other,
    };
    let sub = match p.next() {
        None => None,
        Some((Tok::Word(w), spos)) => {
            let name = w
                .strip_prefix('.')
                .filter(|n| !n.is_empty())
                .ok_or_else(|| FilterError::at("expected '.subAttribute' after ']'", Some(spos)))?;
            let sub = path.attr.sub(name).ok_or_else(|| {
                FilterError::at(
                    format!("'{}' has no sub-attribute '{name}'", path.attr.name),
                    Some(spos),
                )
            })?;
            p.expect_end()?;
            Some(sub)
        }
        Some((_, spos)) => return Err(FilterError::at("unexpected input after ']'", Some(spos))),
    };
    Ok(PatchPath::Filtered { path, filter, sub })
}

const MAX_DEPTH: usize = 32;
/// `and`/`or` chains build a left-leaning tree that is evaluated, translated and dropped
/// recursively: without a bound, a 128 KiB filter overflows a worker thread's stack.
const MAX_OPERATORS: usize = 256;

#[derive(Clone, Copy)]
enum Ctx {
    Root,
    Element(&'static Attribute),
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    end: usize,
    schema: &'static ResourceSchema,
    operators: usize,
}

/// Resolve a top-level attribute path (`[URN ":"] name ["." sub]`).
fn resolve_root(
    word: &str,
    schema: &'static ResourceSchema,
    pos: usize,
) -> Result<AttrPath, FilterError> {
    let lower = word.to_ascii_lowercase();
    let mut extension = None;
    let mut rest = word;
    for ext in schema.extensions {
        if let Some(r) = strip_urn(&lower, word, ext.urn) {
            extension = Some(ext);
            rest = r;
        }
    }
    if extension.is_none() {
        if let Some(r) = strip_urn(&lower, word, schema.core_urn) {
            rest = r;
        } else if word.contains(':') {
            return Err(FilterError::at(
                format!("unknown schema in attribute path '{word}'"),
                Some(pos),
            ));
        }
    }
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default();
    let sub_name = parts.next();
    if parts.next().is_some() {
        return Err(FilterError::at(
            format!("attribute path '{word}' is nested too deeply"),
            Some(pos),
        ));
    }
    let attr = match extension {
        Some(e) => e.attribute(name),
        None => schema.attribute(name),
    }
    .ok_or_else(|| {
        FilterError::at(
            format!("unknown attribute '{rest}' for {} resources", schema.name),
            Some(pos),
        )
    })?;
    let sub = match sub_name {
        None => None,
        Some(s) => Some(attr.sub(s).ok_or_else(|| {
            FilterError::at(
                format!("'{}' has no sub-attribute '{s}'", attr.name),
                Some(pos),
            )
        })?),
    };
    Ok(AttrPath {
        extension,
        attr,
        sub,
    })
}

fn strip_urn<'a>(lower: &str, word: &'a str, urn: &str) -> Option<&'a str> {
    let n = urn.len();
    if lower.starts_with(&urn.to_ascii_lowercase()) && lower.get(n..n + 1) == Some(":") {
        word.get(n + 1..)
    } else {
        None
    }
}

fn keyword(tok: &Tok, kw: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn new(input: &str, schema: &'static ResourceSchema) -> Result<Self, FilterError> {
        let toks = lex(input)?;
        if toks.is_empty() {
            return Err(FilterError::at("empty filter", None));
        }
        Ok(Parser {
            toks,
            at: 0,
            end: input.chars().count() + 1,
            schema,
            operators: 0,
        })
    }

    fn peek(&self) -> Option<&(Tok, usize)> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.1)
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek().is_some_and(|t| &t.0 == tok) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| keyword(&t.0, kw)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_end(&self) -> Result<(), FilterError> {
        match self.peek() {
            None => Ok(()),
            Some((Tok::Close(c), p)) => Err(FilterError::at(format!("unbalanced '{c}'"), Some(*p))),
            Some((_, p)) => Err(FilterError::at(
                "unexpected input; expected 'and', 'or' or the end of the filter",
                Some(*p),
            )),
        }
    }

    fn expect_close(&mut self, c: char, opened_at: usize) -> Result<(), FilterError> {
        if self.eat(&Tok::Close(c)) {
            Ok(())
        } else {
            let open = if c == ')' { '(' } else { '[' };
            Err(FilterError::at(
                format!("missing '{c}' for the '{open}' at character {opened_at}"),
                Some(self.pos()),
            ))
        }
    }

    fn count_operator(&mut self) -> Result<(), FilterError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(FilterError::at(
                format!("filter has more than {MAX_OPERATORS} 'and'/'or' operators"),
                Some(self.pos()),
            ));
        }
        Ok(())
    }

    fn or_exp(&mut self, ctx: Ctx, depth: usize) -> Result<Filter, FilterError> {
        if depth > MAX_DEPTH {
            return Err(FilterError::at(
                "filter is nested too deeply",
                Some(self.pos()),
            ));
        }
        let mut left = self.and_exp(ctx, depth)?;
        while self.eat_keyword("or") {
            self.count_operator()?;
            let right = self.and_exp(ctx, depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_exp(&mut self, ctx: Ctx, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.unary(ctx, depth)?;
        while self.eat_keyword("and") {
            self.count_operator()?;
            let right = self.unary(ctx, depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, ctx: Ctx, depth: usize) -> Result<Filter, FilterError> {
        let pos = self.pos();
        let Some((tok, _)) = self.next() else {
            return Err(FilterError::at(
                "expected an attribute expression",
                Some(pos),
            ));
        };
        match tok {
            Tok::Open('(') => {
                let f = self.or_exp(ctx, depth + 1)?;
                self.expect_close(')', pos)?;
                Ok(f)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                let open = self.pos();
                if !self.eat(&Tok::Open('(')) {
                    return Err(FilterError::at(
                        "'not' must be followed by a parenthesized filter",
                        Some(open),
                    ));
                }
                let f = self.or_exp(ctx, depth + 1)?;
                self.expect_close(')', open)?;
                Ok(Filter::Not(Box::new(f)))
            }
            Tok::Word(w) => self.attr_exp(&w, pos, ctx, depth),
            _ => Err(FilterError::at(
                "expected an attribute name, '(' or 'not'",
                Some(pos),
            )),
        }
    }

    fn attr_exp(
        &mut self,
        word: &str,
        pos: usize,
        ctx: Ctx,
        depth: usize,
    ) -> Result<Filter, FilterError> {
        let path = match ctx {
            Ctx::Root => resolve_root(word, self.schema, pos)?,
            Ctx::Element(parent) => {
                let attr = parent.sub(word).ok_or_else(|| {
                    FilterError::at(
                        format!("'{}' has no sub-attribute '{word}'", parent.name),
                        Some(pos),
                    )
                })?;
                AttrPath {
                    extension: None,
                    attr,
                    sub: None,
                }
            }
        };
        if self.eat(&Tok::Open('[')) {
            if let Ctx::Element(_) = ctx {
                return Err(FilterError::at("value filters cannot be nested", Some(pos)));
            }
            let f = self.value_filter(path, pos, depth)?;
            if let Some((Tok::Word(w), p)) = self.peek()
                && w.starts_with('.')
            {
                return Err(FilterError::at(
                    "'attr[filter].sub' is only allowed in PATCH paths",
                    Some(*p),
                ));
            }
            return Ok(f);
        }
        let op_pos = self.pos();
        let op = match self.next() {
            Some((Tok::Word(op), _)) => op.to_ascii_lowercase(),
            _ => {
                return Err(FilterError::at(
                    format!("expected an operator after '{word}'"),
                    Some(op_pos),
                ));
            }
        };
        let negate = op == "ne";
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" | "ne" => CompareOp::Eq,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => {
                return Err(FilterError::at(
                    format!(
                        "unknown operator '{op}' (expected eq, ne, co, sw, ew, pr, gt, ge, lt, le)"
                    ),
                    Some(op_pos),
                ));
            }
        };
        let val_pos = self.pos();
        let value = match self.next() {
            Some((Tok::Str(s), _)) => Some(CompValue::Str(s)),
            Some((Tok::Num(n), _)) => Some(CompValue::Num(n)),
            Some((t, _)) if keyword(&t, "true") => Some(CompValue::Bool(true)),
            Some((t, _)) if keyword(&t, "false") => Some(CompValue::Bool(false)),
            Some((t, _)) if keyword(&t, "null") => None,
            _ => {
                return Err(FilterError::at(
                    format!(
                        "expected a value (string, number, true, false or null) after '{word} {}'",
                        op_name(op, negate)
                    ),
                    Some(val_pos),
                ));
            }
        };
        let f = match value {
            None if op == CompareOp::Eq => Filter::Present(path),
            None => {
                return Err(FilterError::at(
                    "null can only be compared with eq or ne",
                    Some(val_pos),
                ));
            }
            Some(v) => Filter::Compare(path, op, check_value(&path, op, v, val_pos)?),
        };
        // `eq null` is "not present", `ne v` is "not (eq v)".
        let is_null_eq = matches!(f, Filter::Present(_));
        Ok(if negate != is_null_eq {
            Filter::Not(Box::new(f))
        } else {
            f
        })
    }

    fn value_filter(
        &mut self,
        path: AttrPath,
        pos: usize,
        depth: usize,
    ) -> Result<Filter, FilterError> {
        if path.sub.is_some() || !path.attr.is_complex() {
            return Err(FilterError::at(
                format!("'{path}' is not a complex attribute; it cannot take a [filter]"),
                Some(pos),
            ));
        }
        let open = self.pos().saturating_sub(1);
        let inner = self.or_exp(Ctx::Element(path.attr), depth + 1)?;
        self.expect_close(']', open)?;
        Ok(Filter::ValuePath(path, Box::new(inner)))
    }
}

fn op_name(op: CompareOp, negate: bool) -> &'static str {
    match op {
        CompareOp::Eq if negate => "ne",
        CompareOp::Eq => "eq",
        CompareOp::Co => "co",
        CompareOp::Sw => "sw",
        CompareOp::Ew => "ew",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "ge",
        CompareOp::Lt => "lt",
        CompareOp::Le => "le",
    }
}

/// Type-check a comparison and coerce `"True"`/`"False"` for boolean attributes.
fn check_value(
    path: &AttrPath,
    op: CompareOp,
    v: CompValue,
    pos: usize,
) -> Result<CompValue, FilterError> {
    let t = path.target();
    let bad = |why: String| Err(FilterError::at(why, Some(pos)));
    if t.is_complex() {
        return bad(format!(
            "'{path}' is complex: compare one of its sub-attributes (for example '{path}.value') or use pr"
        ));
    }
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    match (t.ty, v) {
        (AttrType::Boolean, _) if ordering || substring => {
            bad(format!("'{path}' is boolean: only eq, ne and pr apply"))
        }
        (AttrType::Boolean, CompValue::Bool(b)) => Ok(CompValue::Bool(b)),
        (AttrType::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(CompValue::Bool(true))
        }
        (AttrType::Boolean, CompValue::Str(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(CompValue::Bool(false))
        }
        (AttrType::Boolean, _) => bad(format!("'{path}' is boolean: compare with true or false")),
        (AttrType::Integer, CompValue::Num(n)) if !substring => Ok(CompValue::Num(n)),
        (AttrType::Integer, _) => bad(format!(
            "'{path}' is an integer: compare with a number using eq, ne, gt, ge, lt or le"
        )),
        (AttrType::String | AttrType::DateTime | AttrType::Reference, CompValue::Str(s)) => {
            Ok(CompValue::Str(s))
        }
        (_, _) => bad(format!(
            "'{path}' is a string: put the value in double quotes"
        )),
    }
}
