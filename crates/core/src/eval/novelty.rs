//! How much of a written poem is copied from the training poems, and how much it repeats
//! itself: a suffix array over the training text (the `suffix` crate) answers "does this
//! string occur anywhere in the corpus" in O(m log n), so the longest copied run of a sample
//! is found without scanning the corpus.

use std::collections::HashSet;

use suffix::SuffixTable;

use crate::text::{LINE_ENDS, is_hanzi};

/// Training lines shorter than this are too common to call a copy (君不见, 春风).
pub const MIN_COPIED_LINE: usize = 5;

/// The training text, indexed for copy checks.
pub struct CopyIndex {
    table: SuffixTable<'static, 'static>,
    lines: HashSet<String>,
}

/// A sample's copy and repetition figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Novelty {
    /// Longest run of characters (punctuation included) that occurs in some training poem.
    pub longest_copied: usize,
    /// Whether one of its lines is a whole training line (of `MIN_COPIED_LINE` or more characters).
    pub copies_a_line: bool,
    /// Share of its Chinese characters that repeat an earlier one in the same poem.
    pub repeated: f64,
}

impl CopyIndex {
    /// Indexes poems (each a sequence of characters); a newline separates them, so no match
    /// spans two poems.
    pub fn new<'a>(poems: impl IntoIterator<Item = &'a [char]>) -> Self {
        let mut text = String::new();
        let mut lines = HashSet::new();
        for poem in poems {
            text.extend(poem.iter());
            text.push('\n');
            for line in poem.split(|c| LINE_ENDS.contains(c)) {
                if line.len() >= MIN_COPIED_LINE {
                    lines.insert(line.iter().collect());
                }
            }
        }
        CopyIndex { table: SuffixTable::new(text), lines }
    }

    /// Whether `piece` occurs in the training text.
    pub fn contains(&self, piece: &str) -> bool {
        self.table.contains(piece)
    }

    /// Copy and repetition figures of one sample.
    pub fn measure(&self, sample: &str) -> Novelty {
        let chars: Vec<char> = sample.chars().collect();
        let mut longest = 0;
        for start in 0..chars.len() {
            if chars.len() - start <= longest {
                break;
            }
            // Occurrence is monotone in length (a prefix of a copy is a copy): binary search.
            let (mut lo, mut hi) = (longest, chars.len() - start);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                let piece: String = chars[start..start + mid].iter().collect();
                if self.table.contains(&piece) { lo = mid } else { hi = mid - 1 }
            }
            longest = lo;
        }
        let copies_a_line = sample
            .split(LINE_ENDS)
            .filter(|l| l.chars().count() >= MIN_COPIED_LINE)
            .any(|l| self.lines.contains(l));
        let hanzi: Vec<char> = chars.iter().copied().filter(|&c| is_hanzi(c)).collect();
        let distinct: HashSet<char> = hanzi.iter().copied().collect();
        let repeated = if hanzi.is_empty() { 0.0 } else { 1.0 - distinct.len() as f64 / hanzi.len() as f64 };
        Novelty { longest_copied: longest, copies_a_line, repeated }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(poems: &[&str]) -> CopyIndex {
        let chars: Vec<Vec<char>> = poems.iter().map(|p| p.chars().collect()).collect();
        CopyIndex::new(chars.iter().map(Vec::as_slice))
    }

    #[test]
    fn finds_a_planted_training_line_and_the_longest_copied_run() {
        let index = index(&["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "白日依山尽，黄河入海流。"]);
        let planted = index.measure("春风吹柳绿，疑是地上霜。江水向东流，孤帆远影长。");
        assert!(planted.copies_a_line);
        assert_eq!(planted.longest_copied, "，疑是地上霜。".chars().count());
        let fresh = index.measure("春风吹柳绿，江水向东去。");
        assert!(!fresh.copies_a_line);
        assert!(fresh.longest_copied <= 2, "{fresh:?}");
        // No run may span two training poems.
        assert_eq!(index.measure("故乡。白日").longest_copied, 3);
    }

    #[test]
    fn repetition_counts_repeated_characters() {
        let index = index(&["山水"]);
        assert_eq!(index.measure("切切切切").repeated, 0.75);
        assert_eq!(index.measure("床前明月光").repeated, 0.0);
    }
}
