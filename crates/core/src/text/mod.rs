//! What the language says about verse: the characters a line is made of, the marks that end
//! a line, a poem's lines, which characters rhyme today (`rhyme`), the 平水韵 (`pingshui`,
//! read through `meter`), the 格律 of regulated verse (`meter`) and the marks a reader puts on a
//! poem (`marks`). The bottom layer: it uses nothing else in the crate.

pub mod marks;
pub mod meter;
mod pingshui;
pub mod rhyme;

/// The marks that end a line of verse.
pub const LINE_ENDS: [char; 5] = ['，', '。', '？', '！', '；'];

/// Characters a poem line is made of (CJK ideographs); punctuation is placed by the form.
pub fn is_hanzi(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// Whether a poem is regular 五言 or 七言 verse: two or more lines (an even number), each of
/// 5 or 7 characters (all the same), each ending in punctuation, the last in `。`.
pub fn is_well_formed(poem: &str) -> bool {
    let mut lines = Vec::new();
    let mut line = 0usize;
    for c in poem.chars() {
        if is_hanzi(c) {
            line += 1;
        } else if LINE_ENDS.contains(&c) && line > 0 {
            lines.push(line);
            line = 0;
        } else {
            return false;
        }
    }
    line == 0
        && poem.ends_with('。')
        && lines.len() >= 2
        && lines.len() % 2 == 0
        && (lines[0] == 5 || lines[0] == 7)
        && lines.iter().all(|&l| l == lines[0])
}

/// The lines of a 绝句 or 律诗 (4 or 8 lines of 5 or 7 characters), without punctuation.
pub fn verse_lines(poem: &str) -> Option<Vec<Vec<char>>> {
    let lines: Vec<Vec<char>> = poem
        .split(LINE_ENDS)
        .map(|l| l.chars().collect::<Vec<char>>())
        .filter(|l| !l.is_empty())
        .collect();
    let width = lines.first()?.len();
    let regular = matches!(lines.len(), 4 | 8)
        && matches!(width, 5 | 7)
        && lines.iter().all(|l| l.len() == width && l.iter().all(|&c| is_hanzi(c)));
    regular.then_some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_verse() {
        assert!(is_well_formed("床前明月光，疑是地上霜。举头望明月，低头思故乡。"));
        assert!(is_well_formed("朝辞白帝彩云间，千里江陵一日还。"));
        assert!(!is_well_formed("床前明月光，疑是地上霜"));
        assert!(!is_well_formed("床前明月光，疑是地上。"));
        assert!(!is_well_formed("床前明月光。"));
        assert!(!is_well_formed("床前明月，疑是地上。"));
    }
}
