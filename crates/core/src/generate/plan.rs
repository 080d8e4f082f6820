//! The form's plan while writing: which tokens may come next in a 绝句 or 律诗 (characters,
//! then the line's mark), in an acrostic, and at a rhyming line's end.

use serde::{Deserialize, Serialize};

use crate::data::vocab::{BOS, EOS, PAD, UNK, Vocab};
use crate::text::is_hanzi;
use crate::text::rhyme::Groups;

/// Classical forms, with line length and line count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoemForm {
    #[default]
    Free,
    /// 五言绝句
    Wujue,
    /// 七言绝句
    Qijue,
    /// 五言律诗
    Wulv,
    /// 七言律诗
    Qilv,
}

impl PoemForm {
    /// `(characters per line, lines)`, or `None` for free verse.
    pub fn shape(self) -> Option<(usize, usize)> {
        match self {
            PoemForm::Free => None,
            PoemForm::Wujue => Some((5, 4)),
            PoemForm::Qijue => Some((7, 4)),
            PoemForm::Wulv => Some((5, 8)),
            PoemForm::Qilv => Some((7, 8)),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim() {
            "free" | "" | "自由" => PoemForm::Free,
            "wujue" | "五绝" | "五言绝句" => PoemForm::Wujue,
            "qijue" | "七绝" | "七言绝句" => PoemForm::Qijue,
            "wulv" | "wulu" | "五律" | "五言律诗" => PoemForm::Wulv,
            "qilv" | "qilu" | "七律" | "七言律诗" => PoemForm::Qilv,
            _ => return None,
        })
    }
}

/// What the decoder may emit next.
pub(super) enum Allowed {
    Any,
    /// Any character, not the end: an acrostic still has lines to write.
    Text,
    Hanzi,
    /// A Chinese character sharing a rhyme group with the rhyming lines so far.
    Rhyme,
    Only(usize),
}

/// Tracks the position in the poem and says which tokens may come next.
pub(super) struct Plan<'a> {
    pub(super) vocab: &'a Vocab,
    pub(super) shape: Option<(usize, usize)>,
    pub(super) acrostic: Vec<usize>,
    pub(super) comma: usize,
    pub(super) period: usize,
    /// Characters of the current line and finished lines so far.
    pub(super) col: usize,
    pub(super) line: usize,
    /// Free verse: an acrostic's line ends at either mark.
    pub(super) line_end_marks: Vec<usize>,
    /// With rhyme: each token's rhyme groups, and the groups the rhyming lines so far share.
    pub(super) rhyme: Option<Vec<Groups>>,
    pub(super) rhyme_set: Groups,
}

impl<'a> Plan<'a> {
    pub(super) fn next(&self) -> Allowed {
        match self.shape {
            Some((len, lines)) => {
                if self.line == lines {
                    Allowed::Only(EOS)
                } else if self.col == len {
                    Allowed::Only(if self.line % 2 == 0 { self.comma } else { self.period })
                } else if self.col == 0 && self.line < self.acrostic.len() {
                    Allowed::Only(self.acrostic[self.line])
                } else if self.rhyme.is_some() && self.col + 1 == len && self.line % 2 == 1 {
                    Allowed::Rhyme
                } else {
                    Allowed::Hanzi
                }
            }
            None if !self.acrostic.is_empty() => {
                if self.line == self.acrostic.len() {
                    Allowed::Only(EOS)
                } else if self.col == 0 {
                    Allowed::Only(self.acrostic[self.line])
                } else {
                    Allowed::Text
                }
            }
            None => Allowed::Any,
        }
    }

    pub(super) fn accepts(&self, token: usize) -> bool {
        match self.next() {
            Allowed::Any => !matches!(token, PAD | UNK | BOS),
            Allowed::Text => self.vocab.char_of(token).is_some(),
            Allowed::Hanzi => self.vocab.char_of(token).is_some_and(is_hanzi),
            Allowed::Rhyme => {
                self.vocab.char_of(token).is_some_and(is_hanzi)
                    && self.rhyme.as_ref().is_some_and(|g| g[token] & self.rhyme_set != 0)
            }
            Allowed::Only(t) => t == token,
        }
    }

    pub(super) fn push(&mut self, token: usize) {
        if let (Allowed::Rhyme, Some(g)) = (self.next(), &self.rhyme) {
            self.rhyme_set &= g[token]; // later lines must share a group with this one
        }
        let ends_line = match self.shape {
            Some((len, _)) => self.col == len,
            None => self.line_end_marks.contains(&token),
        };
        if ends_line {
            self.line += 1;
            self.col = 0;
        } else {
            self.col += 1;
        }
    }
}

/// How a start leaves a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartBreak {
    /// A character where the line has ended and needs its mark (，or 。): the start is longer
    /// than the form's line.
    PastLineEnd,
    /// Anything else: a wrong mark, a mark inside a line, another character than the acrostic's,
    /// or more than the whole poem.
    Other,
}

/// Whether a start (its characters and marks, no whitespace) fits a form of `(chars, lines)`
/// with `acrostic`, by the rules [`Plan::next`] decodes with; checked before anything else
/// about the start, so a start the form cannot hold gets the form's error.
pub(super) fn start_break((len, lines): (usize, usize), start: &[char], acrostic: &[char]) -> Option<StartBreak> {
    let (mut line, mut col) = (0, 0);
    for &c in start {
        let fits = if line == lines {
            false
        } else if col == len {
            if is_hanzi(c) {
                return Some(StartBreak::PastLineEnd);
            }
            c == if line % 2 == 0 { '，' } else { '。' }
        } else if col == 0 && line < acrostic.len() {
            c == acrostic[line]
        } else {
            is_hanzi(c)
        };
        if !fits {
            return Some(StartBreak::Other);
        }
        if col == len {
            (line, col) = (line + 1, 0);
        } else {
            col += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_by_name() {
        assert_eq!(PoemForm::parse("五绝"), Some(PoemForm::Wujue));
        assert_eq!(PoemForm::parse("qilv"), Some(PoemForm::Qilv));
        assert_eq!(PoemForm::parse("sonnet"), None);
    }

    #[test]
    fn a_start_is_held_against_the_form_by_characters() {
        let five = |s: &str| start_break((5, 4), &s.chars().collect::<Vec<_>>(), &[]);
        assert_eq!(five("白日依山尽，黄河"), None);
        assert_eq!(five("白日依山尽黄河"), Some(StartBreak::PastLineEnd));
        assert_eq!(five("白日依山尽。"), Some(StartBreak::Other));
        assert_eq!(five("白日，"), Some(StartBreak::Other));
        assert_eq!(start_break((5, 4), &['月'], &['春']), Some(StartBreak::Other));
    }
}
