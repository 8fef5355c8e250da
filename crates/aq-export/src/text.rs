//! Text helpers shared by the formatters: control-character removal and UTF-8-safe truncation.

use std::borrow::Cow;

/// `s` with every control character (C0, DEL, C1) replaced by a space, so that no field can
/// start a new line or a terminal escape at a receiver.
pub fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_removes_controls() {
        assert_eq!(clean("a\nb\r\u{1b}[0m\u{85}c"), "a b  [0m c");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn truncation_respects_boundaries() {
        assert_eq!(truncate_utf8("Störung", 3), "St");
        assert_eq!(truncate_utf8("Störung", 4), "Stö");
        assert_eq!(truncate_utf8("abc", 10), "abc");
        assert_eq!(truncate_utf8("ö", 1), "");
    }
}
