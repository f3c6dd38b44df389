//! GPT-2's pre-tokenizer, by hand: splits text the way the regex
//! `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
//! does under Oniguruma (what HF `tokenizers`' ByteLevel pre-tokenizer runs), without a regex
//! engine. Every character is matched by some alternative, so the pieces cover the text.
//! Character classes come from the generated `unicode_tables.rs`. Never allocates.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
use super::unicode_tables::{LETTER, NUMBER, WHITE_SPACE};

/// The character classes the regex distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// `\p{L}`
    Letter,
    /// `\p{N}`
    Number,
    /// `\s`
    Space,
    /// anything else: `[^\s\p{L}\p{N}]`
    Other,
}

fn in_ranges(table: &[(u32, u32)], cp: u32) -> bool {
    // the first range whose end is >= cp; the code point is in it iff its start is <= cp
    let i = table.partition_point(|&(_, hi)| hi < cp);
    matches!(table.get(i), Some(&(lo, _)) if lo <= cp)
}

/// The regex class of `c`.
pub(crate) fn class(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            'a'..='z' | 'A'..='Z' => Class::Letter,
            '0'..='9' => Class::Number,
            '\t'..='\r' | ' ' => Class::Space,
            _ => Class::Other,
        };
    }
    let cp = c as u32;
    if in_ranges(LETTER, cp) {
        Class::Letter
    } else if in_ranges(NUMBER, cp) {
        Class::Number
    } else if in_ranges(WHITE_SPACE, cp) {
        Class::Space
    } else {
        Class::Other
    }
}

/// Iterator over the pre-tokens of `text`, as byte ranges `(start, end)` into it.
#[derive(Clone, Debug)]
pub(crate) struct Gpt2Split<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Gpt2Split<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        Gpt2Split { text, pos: 0 }
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.text.get(i..).and_then(|s| s.chars().next())
    }

    /// End of the run of characters of class `cl` starting at byte `i`.
    fn run_end(&self, mut i: usize, cl: Class) -> usize {
        while let Some(c) = self.char_at(i) {
            if class(c) != cl {
                break;
            }
            i += c.len_utf8();
        }
        i
    }

    /// Length in bytes of a contraction (`'s 't 're 've 'm 'll 'd`, lowercase only) at byte `i`,
    /// which holds an apostrophe.
    fn contraction(&self, i: usize) -> Option<usize> {
        let rest = self.text.as_bytes().get(i + 1..)?;
        match rest {
            [b's' | b't' | b'm' | b'd', ..] => Some(2),
            [b'r', b'e', ..] | [b'v', b'e', ..] | [b'l', b'l', ..] => Some(3),
            _ => None,
        }
    }
}

impl<'t> Iterator for Gpt2Split<'t> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        let c = self.char_at(start)?;
        let end = self.piece_end(start, c);
        debug_assert!(end > start);
        self.pos = end;
        Some((start, end))
    }
}

impl<'t> Gpt2Split<'t> {
    fn piece_end(&self, i: usize, c: char) -> usize {
        // 's|'t|'re|'ve|'m|'ll|'d
        if c == '\'' {
            if let Some(n) = self.contraction(i) {
                return i + n;
            }
        }
        // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`: an optional ASCII space, then a run of one class
        let (body, cl) = if c == ' ' {
            match self.char_at(i + 1) {
                Some(d) => (i + 1, class(d)),
                None => (i, Class::Space),
            }
        } else {
            (i, class(c))
        };
        if cl != Class::Space {
            return self.run_end(body, cl);
        }
        // `\s+(?!\S)|\s+`: here `c` itself is whitespace
        let run_end = self.run_end(i, Class::Space);
        if run_end >= self.text.len() {
            return run_end; // whitespace up to the end of the text
        }
        // followed by a non-space: give back the last whitespace character, if the run has two
        let last = self.text.get(i..run_end).and_then(|s| s.chars().next_back());
        match last {
            Some(l) if run_end - l.len_utf8() > i => run_end - l.len_utf8(),
            _ => run_end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> heapless::Vec<&str, 64> {
        let mut v = heapless::Vec::new();
        for (a, b) in Gpt2Split::new(s) {
            v.push(&s[a..b]).unwrap();
        }
        v
    }

    #[test]
    fn classes() {
        assert_eq!(class('a'), Class::Letter);
        assert_eq!(class('中'), Class::Letter);
        assert_eq!(class('é'), Class::Letter);
        assert_eq!(class('٣'), Class::Number);
        assert_eq!(class('½'), Class::Number);
        assert_eq!(class('\u{3000}'), Class::Space);
        assert_eq!(class('\u{85}'), Class::Space);
        assert_eq!(class('\u{a0}'), Class::Space);
        assert_eq!(class('\u{1c}'), Class::Other);
        assert_eq!(class('\u{200b}'), Class::Other);
        assert_eq!(class('\u{301}'), Class::Other);
        assert_eq!(class('😀'), Class::Other);
    }

    #[test]
    fn words_and_spaces() {
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(split("  a"), [" ", " a"]);
        assert_eq!(split("a  "), ["a", "  "]);
        assert_eq!(split(" \nhello"), [" ", "\n", "hello"]);
        assert_eq!(split("a\t\tb"), ["a", "\t", "\t", "b"]);
        assert_eq!(split("x   \n   y"), ["x", "   \n  ", " y"]);
        assert_eq!(split(" "), [" "]);
        assert_eq!(split(""), [] as [&str; 0]);
    }

    #[test]
    fn contractions_and_punctuation() {
        assert_eq!(split("don't"), ["don", "'t"]);
        assert_eq!(split("DON'T"), ["DON", "'", "T"]);
        assert_eq!(split("we're I'll"), ["we", "'re", " I", "'ll"]);
        assert_eq!(split("''''"), ["''''"]);
        assert_eq!(split(" 's"), [" '", "s"]);
        assert_eq!(split("a!!'s"), ["a", "!!'", "s"]);
        assert_eq!(split("x'"), ["x", "'"]);
    }

    #[test]
    fn numbers_and_unicode() {
        assert_eq!(split("in 2024,"), ["in", " 2024", ","]);
        assert_eq!(split("e\u{301}x"), ["e", "\u{301}", "x"]);
        assert_eq!(split("a\u{3000}b"), ["a", "\u{3000}", "b"]);
        assert_eq!(split("中文 abc"), ["中文", " abc"]);
    }
}
