//! A strict CSV reader for the embedded reference data (RFC 4180 quoting, LF line ends).
//!
//! The reference CSVs are compiled into the binary, but they are edited by hand, so the reader is
//! strict rather than forgiving: the header must be exactly the expected one, every row has the
//! same number of fields, fields carry no leading or trailing whitespace, carriage returns and
//! blank lines are errors, and quotes follow RFC 4180 exactly. Every error names the file, the
//! 1-based line and the 1-based field (column) where it was found. Size, row, field and length
//! limits bound the work on any input; nothing here panics.

use crate::catalogue::{CatalogueError, CatalogueErrorKind};
use std::borrow::Cow;

/// Largest accepted file (the biggest embedded file is ~140 KB).
pub(crate) const MAX_FILE_BYTES: usize = 1 << 20;
/// Most data rows in one file.
pub(crate) const MAX_ROWS: usize = 10_000;
/// Most fields in one row.
pub(crate) const MAX_FIELDS: usize = 32;
/// Longest field, in bytes.
pub(crate) const MAX_FIELD_BYTES: usize = 4096;

/// One data row: its 1-based line number and its fields (unquoted).
#[derive(Debug, Clone)]
pub(crate) struct Row<'a> {
    pub(crate) line: usize,
    fields: Vec<Cow<'a, str>>,
}

/// A parsed file: its name, the header it was checked against, and the data rows.
#[derive(Debug)]
pub(crate) struct Table<'a> {
    pub(crate) file: &'static str,
    pub(crate) header: &'static [&'static str],
    pub(crate) rows: Vec<Row<'a>>,
}

impl<'a> Table<'a> {
    /// An error located at `row`, field `col` (0-based index into the header).
    pub(crate) fn err(
        &self,
        row: &Row<'_>,
        col: usize,
        kind: CatalogueErrorKind,
    ) -> CatalogueError {
        CatalogueError {
            file: self.file.to_string(),
            line: row.line,
            column: col + 1,
            column_name: self.header.get(col).map(|s| (*s).to_string()),
            kind,
        }
    }

    /// The index of a header column. The headers are fixed by the caller, so a miss is a bug in
    /// this crate; it is still reported as an error rather than a panic.
    fn col(&self, row: &Row<'_>, name: &str) -> Result<usize, CatalogueError> {
        self.header.iter().position(|h| *h == name).ok_or_else(|| {
            self.err(
                row,
                0,
                CatalogueErrorKind::Invalid {
                    value: name.to_string(),
                    expected: "a column of this file",
                },
            )
        })
    }

    /// The field of `row` under column `name` (may be empty).
    pub(crate) fn field<'r>(
        &self,
        row: &'r Row<'a>,
        name: &str,
    ) -> Result<&'r str, CatalogueError> {
        let c = self.col(row, name)?;
        row.fields.get(c).map(|f| f.as_ref()).ok_or_else(|| {
            self.err(
                row,
                c,
                CatalogueErrorKind::FieldCount {
                    expected: self.header.len(),
                    found: row.fields.len(),
                },
            )
        })
    }

    /// The field under `name`, which must not be empty.
    pub(crate) fn required<'r>(
        &self,
        row: &'r Row<'a>,
        name: &str,
    ) -> Result<&'r str, CatalogueError> {
        let v = self.field(row, name)?;
        if v.is_empty() {
            let c = self.col(row, name)?;
            return Err(self.err(row, c, CatalogueErrorKind::Empty));
        }
        Ok(v)
    }

    /// The field under `name` as `Some` when not empty.
    pub(crate) fn optional<'r>(
        &self,
        row: &'r Row<'a>,
        name: &str,
    ) -> Result<Option<&'r str>, CatalogueError> {
        let v = self.field(row, name)?;
        Ok((!v.is_empty()).then_some(v))
    }

    /// An `Invalid` error for column `name` of `row`.
    pub(crate) fn invalid(
        &self,
        row: &Row<'_>,
        name: &str,
        value: &str,
        expected: &'static str,
    ) -> CatalogueError {
        let c = self.header.iter().position(|h| *h == name).unwrap_or(0);
        self.err(
            row,
            c,
            CatalogueErrorKind::Invalid {
                value: value.to_string(),
                expected,
            },
        )
    }

    /// An `Inconsistent` error for column `name` of `row`.
    pub(crate) fn inconsistent(&self, row: &Row<'_>, name: &str, reason: String) -> CatalogueError {
        let c = self.header.iter().position(|h| *h == name).unwrap_or(0);
        self.err(row, c, CatalogueErrorKind::Inconsistent { reason })
    }
}

fn syntax(
    file: &'static str,
    line: usize,
    column: usize,
    kind: CatalogueErrorKind,
) -> CatalogueError {
    CatalogueError {
        file: file.to_string(),
        line,
        column,
        column_name: None,
        kind,
    }
}

/// Parses `text` (the contents of `file`) and checks its header against `header`.
pub(crate) fn parse<'a>(
    file: &'static str,
    text: &'a str,
    header: &'static [&'static str],
) -> Result<Table<'a>, CatalogueError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(syntax(
            file,
            0,
            0,
            CatalogueErrorKind::TooLarge {
                limit: MAX_FILE_BYTES,
            },
        ));
    }
    let mut records = Records {
        file,
        text,
        pos: 0,
        line: 1,
    };
    let Some((hline, hfields)) = records.next_record()? else {
        return Err(syntax(file, 1, 0, CatalogueErrorKind::MissingHeader));
    };
    let found: Vec<&str> = hfields.iter().map(|f| f.as_ref()).collect();
    if found != header {
        return Err(syntax(
            file,
            hline,
            0,
            CatalogueErrorKind::Header {
                expected: header.join(","),
                found: found.join(","),
            },
        ));
    }
    let mut rows = Vec::new();
    while let Some((line, fields)) = records.next_record()? {
        if rows.len() >= MAX_ROWS {
            return Err(syntax(
                file,
                line,
                0,
                CatalogueErrorKind::TooManyRows { limit: MAX_ROWS },
            ));
        }
        if fields.len() != header.len() {
            return Err(syntax(
                file,
                line,
                fields.len().min(header.len()) + 1,
                CatalogueErrorKind::FieldCount {
                    expected: header.len(),
                    found: fields.len(),
                },
            ));
        }
        rows.push(Row { line, fields });
    }
    Ok(Table { file, header, rows })
}

struct Records<'a> {
    file: &'static str,
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Records<'a> {
    fn err(&self, column: usize, kind: CatalogueErrorKind) -> CatalogueError {
        syntax(self.file, self.line, column, kind)
    }

    /// The next record as (its first line, its fields); `None` at the end of the text.
    #[allow(clippy::type_complexity)]
    fn next_record(&mut self) -> Result<Option<(usize, Vec<Cow<'a, str>>)>, CatalogueError> {
        let bytes = self.text.as_bytes();
        if self.pos >= bytes.len() {
            return Ok(None);
        }
        let start_line = self.line;
        if bytes.get(self.pos) == Some(&b'\n') {
            return Err(self.err(1, CatalogueErrorKind::BlankLine));
        }
        let mut fields: Vec<Cow<'a, str>> = Vec::new();
        loop {
            if fields.len() >= MAX_FIELDS {
                return Err(self.err(
                    fields.len() + 1,
                    CatalogueErrorKind::TooManyFields { limit: MAX_FIELDS },
                ));
            }
            let column = fields.len() + 1;
            let field = if bytes.get(self.pos) == Some(&b'"') {
                self.quoted(column)?
            } else {
                self.unquoted(column)?
            };
            if field.len() > MAX_FIELD_BYTES {
                return Err(self.err(
                    column,
                    CatalogueErrorKind::FieldTooLong {
                        limit: MAX_FIELD_BYTES,
                    },
                ));
            }
            if field.trim() != field.as_ref() {
                return Err(self.err(column, CatalogueErrorKind::Whitespace));
            }
            fields.push(field);
            match bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(Some((start_line, fields)));
                }
                // A file whose last line has no newline is accepted.
                None => return Ok(Some((start_line, fields))),
                Some(b'\r') => return Err(self.err(column, CatalogueErrorKind::CarriageReturn)),
                Some(_) => return Err(self.err(column, CatalogueErrorKind::CharAfterQuote)),
            }
        }
    }

    fn unquoted(&mut self, column: usize) -> Result<Cow<'a, str>, CatalogueError> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b',' | b'\n' => break,
                b'"' => return Err(self.err(column, CatalogueErrorKind::QuoteInUnquotedField)),
                b'\r' => return Err(self.err(column, CatalogueErrorKind::CarriageReturn)),
                _ => self.pos += 1,
            }
        }
        // Both ends sit on ASCII bytes (or the text end), so these are char boundaries.
        let s = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.err(column, CatalogueErrorKind::QuoteInUnquotedField))?;
        Ok(Cow::Borrowed(s))
    }

    fn quoted(&mut self, column: usize) -> Result<Cow<'a, str>, CatalogueError> {
        let bytes = self.text.as_bytes();
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut seg = self.pos;
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.err(column, CatalogueErrorKind::UnterminatedQuote)),
                Some(b'"') => {
                    out.push_str(self.text.get(seg..self.pos).unwrap_or_default());
                    if bytes.get(self.pos + 1) == Some(&b'"') {
                        out.push('"');
                        self.pos += 2;
                        seg = self.pos;
                    } else {
                        self.pos += 1;
                        return Ok(Cow::Owned(out));
                    }
                }
                Some(b'\r') => return Err(self.err(column, CatalogueErrorKind::CarriageReturn)),
                Some(b'\n') => {
                    self.line += 1;
                    self.pos += 1;
                }
                Some(_) => self.pos += 1,
            }
            if out.len() + (self.pos - seg) > MAX_FIELD_BYTES {
                return Err(self.err(
                    column,
                    CatalogueErrorKind::FieldTooLong {
                        limit: MAX_FIELD_BYTES,
                    },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &[&str] = &["a", "b", "c"];

    fn kind(text: &str) -> (usize, usize, CatalogueErrorKind) {
        let e = parse("t.csv", text, H).unwrap_err();
        (e.line, e.column, e.kind)
    }

    #[test]
    fn reads_quotes_and_commas() {
        let t = parse("t.csv", "a,b,c\n1,\"x, \"\"y\"\"\",\n", H).unwrap();
        assert_eq!(t.rows.len(), 1);
        let r = &t.rows[0];
        assert_eq!(t.field(r, "b").unwrap(), "x, \"y\"");
        assert_eq!(t.optional(r, "c").unwrap(), None);
        assert_eq!(r.line, 2);
    }

    #[test]
    fn last_line_without_newline_is_read() {
        let t = parse("t.csv", "a,b,c\n1,2,3", H).unwrap();
        assert_eq!(t.field(&t.rows[0], "c").unwrap(), "3");
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            kind("a,b\n").2,
            CatalogueErrorKind::Header {
                expected: "a,b,c".into(),
                found: "a,b".into()
            }
        );
        let (l, c, k) = kind("a,b,c\n1,2,3\n1,2\n");
        assert_eq!((l, c), (3, 3));
        assert_eq!(
            k,
            CatalogueErrorKind::FieldCount {
                expected: 3,
                found: 2
            }
        );
        assert_eq!(
            kind("a,b,c\n1,\"2,3\n").2,
            CatalogueErrorKind::UnterminatedQuote
        );
        assert_eq!(
            kind("a,b,c\n1,2\"x,3\n"),
            (2, 2, CatalogueErrorKind::QuoteInUnquotedField)
        );
        assert_eq!(
            kind("a,b,c\n1,\"2\"x,3\n"),
            (2, 2, CatalogueErrorKind::CharAfterQuote)
        );
        assert_eq!(
            kind("a,b,c\r\n1,2,3\n"),
            (1, 3, CatalogueErrorKind::CarriageReturn)
        );
        assert_eq!(
            kind("a,b,c\n1,2,3\n\n1,2,3\n"),
            (3, 1, CatalogueErrorKind::BlankLine)
        );
        assert_eq!(
            kind("a,b,c\n1, 2,3\n"),
            (2, 2, CatalogueErrorKind::Whitespace)
        );
        assert_eq!(kind("").2, CatalogueErrorKind::MissingHeader);
    }

    #[test]
    fn limits_hold() {
        let long = format!("a,b,c\n1,{},3\n", "x".repeat(MAX_FIELD_BYTES + 1));
        assert!(matches!(
            kind(&long).2,
            CatalogueErrorKind::FieldTooLong { .. }
        ));
        let longq = format!("a,b,c\n1,\"{}\",3\n", "x".repeat(MAX_FIELD_BYTES + 1));
        assert!(matches!(
            kind(&longq).2,
            CatalogueErrorKind::FieldTooLong { .. }
        ));
        let wide = format!("a,b,c\n{}\n", vec!["1"; MAX_FIELDS + 1].join(","));
        assert!(matches!(
            kind(&wide).2,
            CatalogueErrorKind::TooManyFields { .. }
        ));
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for s in [
            "\"",
            "a,b,c\n\"",
            "a,b,c\n\"\"",
            "a,b,c\n,,",
            "a,b,c\n,,\n,",
            "é,b,c\n",
        ] {
            let _ = parse("t.csv", s, H);
        }
    }
}
