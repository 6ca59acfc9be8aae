//! The filter/path tokenizer: parentheses and brackets, JSON string and number
//! literals, and words (attribute paths, operators, keywords). Positions are 1-based
//! character columns.

use serde_json::Number;

use super::filter::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Open(char),
    Close(char),
    Str(String),
    Num(Number),
    Word(String),
}

pub(crate) fn lex(input: &str) -> Result<Vec<(Tok, usize)>, FilterError> {
    let mut out = Vec::new();
    let mut it = input.char_indices().peekable();
    let col = |byte: usize| input.get(..byte).map_or(0, |s| s.chars().count()) + 1;
    while let Some(&(i, c)) = it.peek() {
        let pos = col(i);
        if c.is_whitespace() {
            it.next();
        } else if c == '(' || c == '[' {
            it.next();
            out.push((Tok::Open(c), pos));
        } else if c == ')' || c == ']' {
            it.next();
            out.push((Tok::Close(c), pos));
        } else if c == '"' {
            it.next();
            let mut escaped = false;
            let mut end = None;
            for (j, d) in it.by_ref() {
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == '"' {
                    end = Some(j);
                    break;
                }
            }
            let end = end.ok_or_else(|| FilterError::at("unterminated string", Some(pos)))?;
            let raw = input.get(i..=end).unwrap_or_default();
            let s: String = serde_json::from_str(raw)
                .map_err(|e| FilterError::at(format!("invalid string literal: {e}"), Some(pos)))?;
            out.push((Tok::Str(s), pos));
        } else if c == '-' || c.is_ascii_digit() {
            let mut end = i;
            while let Some(&(j, d)) = it.peek() {
                if d.is_ascii_alphanumeric() || matches!(d, '-' | '+' | '.') {
                    end = j + d.len_utf8();
                    it.next();
                } else {
                    break;
                }
            }
            let raw = input.get(i..end).unwrap_or_default();
            let n: Number = serde_json::from_str(raw)
                .map_err(|_| FilterError::at(format!("invalid number '{raw}'"), Some(pos)))?;
            out.push((Tok::Num(n), pos));
        } else if c.is_ascii_alphabetic() || matches!(c, '$' | '.' | '_') {
            let mut end = i;
            while let Some(&(j, d)) = it.peek() {
                if d.is_ascii_alphanumeric() || matches!(d, '$' | '.' | '_' | '-' | ':') {
                    end = j + d.len_utf8();
                    it.next();
                } else {
                    break;
                }
            }
            out.push((
                Tok::Word(input.get(i..end).unwrap_or_default().to_string()),
                pos,
            ));
        } else {
            return Err(FilterError::at(
                format!("unexpected character '{c}'"),
                Some(pos),
            ));
        }
    }
    Ok(out)
}
