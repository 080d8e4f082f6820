//! Reading a poem corpus: `title:content` lines or blank-line separated poems,
//! the homework's cleaning rules, and a seeded train/validation split.

use std::collections::BTreeMap;

use burn::config::Config;
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

/// Largest corpus accepted (bytes). Bigger files are almost certainly not a poem list,
/// and would exhaust a browser tab's memory.
pub const MAX_CORPUS_BYTES: usize = 256 * 1024 * 1024;

/// Characters whose presence marks a poem as noisy (annotations, lacunae) in the homework.
const FORBIDDEN: [char; 6] = ['_', '(', '（', '《', '[', '□'];

#[derive(Config, Debug, PartialEq)]
pub struct CleaningConfig {
    /// Fewest characters a poem's content may have.
    #[config(default = 5)]
    pub min_chars: usize,
    /// Most characters a poem's content may have.
    #[config(default = 80)]
    pub max_chars: usize,
    /// Share of poems held out for validation.
    #[config(default = 0.05)]
    pub validation_share: f64,
    /// Seed of the train/validation split.
    #[config(default = 42)]
    pub split_seed: u64,
}

/// One poem; `content` is the text the model learns (title is kept for display only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poem {
    pub title: String,
    pub content: Vec<char>,
}

/// Why a poem was dropped during cleaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Content holds one of `_ ( （ 《 [ □`.
    ForbiddenChar,
    TooShort,
    TooLong,
}

impl DropReason {
    /// A stable name for translations (as serialised).
    pub fn code(self) -> &'static str {
        match self {
            DropReason::ForbiddenChar => "forbidden_char",
            DropReason::TooShort => "too_short",
            DropReason::TooLong => "too_long",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            DropReason::ForbiddenChar => "contains one of _ ( （ 《 [ □",
            DropReason::TooShort => "too short",
            DropReason::TooLong => "too long",
        }
    }
}

/// What cleaning kept and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleaningReport {
    /// Poems found in the file before cleaning.
    pub found: usize,
    pub kept: usize,
    pub dropped: BTreeMap<DropReason, usize>,
}

impl std::fmt::Display for CleaningReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} poems found, {} kept", self.found, self.kept)?;
        for (reason, count) in &self.dropped {
            write!(f, ", {count} dropped ({})", reason.describe())?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorpusError {
    #[error("the corpus is empty: expected poems as `title:content` lines or blank-line separated")]
    Empty,
    #[error("the corpus is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the corpus looks like a binary file (a zero byte on line {line}), not text")]
    Binary { line: usize },
    #[error("the corpus is UTF-16 text ({0}); re-save it as UTF-8")]
    Utf16(&'static str),
    #[error(
        "the corpus is not valid UTF-8 (line {line}){}",
        if *.likely_gbk { "; it decodes as GBK — re-save it as UTF-8" } else { "" }
    )]
    InvalidUtf8 { line: usize, likely_gbk: bool },
    #[error("no poem survived cleaning ({report}); first poem was on line {first_line}")]
    NothingKept { report: CleaningReport, first_line: usize },
}

/// A cleaned corpus split into training and validation poems.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub config: CleaningConfig,
    pub train: Vec<Poem>,
    pub validation: Vec<Poem>,
    pub report: CleaningReport,
}

/// Parses, cleans and splits a corpus given as raw bytes.
pub fn load_corpus(bytes: &[u8], config: &CleaningConfig) -> Result<Corpus, CorpusError> {
    let text = decode(bytes)?;
    let raw = split_poems(text);
    if raw.is_empty() {
        return Err(CorpusError::Empty);
    }
    let first_line = raw[0].0;
    let (poems, report) = clean(raw.into_iter().map(|(_, p)| p), config);
    if poems.is_empty() {
        return Err(CorpusError::NothingKept { report, first_line });
    }
    let (train, validation) = split(poems, config.validation_share, config.split_seed);
    Ok(Corpus { config: config.clone(), train, validation, report })
}

/// Checks the bytes are UTF-8 text, naming the line of the first problem.
fn decode(bytes: &[u8]) -> Result<&str, CorpusError> {
    if bytes.len() > MAX_CORPUS_BYTES {
        return Err(CorpusError::TooLarge { size: bytes.len(), limit: MAX_CORPUS_BYTES });
    }
    // UTF-16 is full of zero bytes: tell it by its byte-order mark before calling it binary.
    if bytes.starts_with(b"\xFF\xFE") {
        return Err(CorpusError::Utf16("little-endian"));
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return Err(CorpusError::Utf16("big-endian"));
    }
    let line_of = |offset: usize| 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
    if let Some(zero) = bytes.iter().position(|&b| b == 0) {
        return Err(CorpusError::Binary { line: line_of(zero) });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) if text.trim().is_empty() => Err(CorpusError::Empty),
        Ok(text) => Ok(text),
        Err(e) => {
            let (_, _, had_errors) = encoding_rs::GBK.decode(bytes);
            Err(CorpusError::InvalidUtf8 { line: line_of(e.valid_up_to()), likely_gbk: !had_errors })
        }
    }
}

/// Splits text into `(line number, poem)` pairs. If most lines hold a colon the file is
/// `title:content` per line; otherwise poems are blocks separated by blank lines.
fn split_poems(text: &str) -> Vec<(usize, Poem)> {
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).collect();
    let non_empty = lines.iter().filter(|(_, l)| !l.is_empty()).count();
    let with_colon = lines.iter().filter(|(_, l)| l.contains([':', '：'])).count();
    if with_colon * 2 >= non_empty {
        lines
            .into_iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(n, l)| (n, title_line(l)))
            .collect()
    } else {
        let mut poems = Vec::new();
        let mut block: Option<(usize, String)> = None;
        for (n, line) in lines {
            if line.is_empty() {
                poems.extend(block.take());
            } else {
                block.get_or_insert_with(|| (n, String::new())).1.push_str(line);
            }
        }
        poems.extend(block);
        poems
            .into_iter()
            .map(|(n, text)| (n, Poem { title: String::new(), content: strip_spaces(&text) }))
            .collect()
    }
}

/// `title:content`; the separator is the first ASCII colon, else the first full-width one,
/// so content may itself contain `：`.
fn title_line(line: &str) -> Poem {
    let split = line.find(':').map(|i| (i, 1)).or_else(|| line.find('：').map(|i| (i, '：'.len_utf8())));
    match split {
        Some((i, width)) => Poem {
            title: line[..i].trim().to_string(),
            content: strip_spaces(&line[i + width..]),
        },
        None => Poem { title: String::new(), content: strip_spaces(line) },
    }
}

fn strip_spaces(text: &str) -> Vec<char> {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn clean(
    poems: impl Iterator<Item = Poem>,
    config: &CleaningConfig,
) -> (Vec<Poem>, CleaningReport) {
    let mut report = CleaningReport::default();
    let mut kept = Vec::new();
    for poem in poems {
        report.found += 1;
        let reason = if poem.content.iter().any(|c| FORBIDDEN.contains(c)) {
            Some(DropReason::ForbiddenChar)
        } else if poem.content.len() < config.min_chars {
            Some(DropReason::TooShort)
        } else if poem.content.len() > config.max_chars {
            Some(DropReason::TooLong)
        } else {
            None
        };
        match reason {
            Some(reason) => *report.dropped.entry(reason).or_default() += 1,
            None => kept.push(poem),
        }
    }
    report.kept = kept.len();
    (kept, report)
}

/// Seeded split by poem. With two or more poems at least one goes to validation when the
/// share is positive, so perplexity can always be measured.
fn split(mut poems: Vec<Poem>, share: f64, seed: u64) -> (Vec<Poem>, Vec<Poem>) {
    poems.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut n_val = (poems.len() as f64 * share.clamp(0.0, 1.0)).round() as usize;
    if share > 0.0 && poems.len() >= 2 {
        n_val = n_val.clamp(1, poems.len() - 1);
    }
    let validation = poems.split_off(poems.len() - n_val);
    (poems, validation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &[u8]) -> Result<Corpus, CorpusError> {
        load_corpus(text, &CleaningConfig::new().with_validation_share(0.0))
    }

    #[test]
    fn title_lines_split_at_the_first_colon() {
        let c = load("静夜思:床前明月光，疑是地上霜。\n问答：客问：何处来？答曰：山中。\n".as_bytes()).unwrap();
        assert_eq!(c.train.len(), 2);
        let titles: Vec<_> = c.train.iter().map(|p| p.title.as_str()).collect();
        assert!(titles.contains(&"静夜思") && titles.contains(&"问答"));
        let qa = c.train.iter().find(|p| p.title == "问答").unwrap();
        assert_eq!(qa.content.iter().collect::<String>(), "客问：何处来？答曰：山中。");
    }

    #[test]
    fn blank_line_blocks_are_poems() {
        let text = "巴山上峡重复重，阳台碧峭十二峰。\n夜卧高丘梦神女。\n\n见尽数万里，不闻三声猿。\n";
        let c = load(text.as_bytes()).unwrap();
        assert_eq!(c.report.found, 2);
        let lens: Vec<_> = c.train.iter().map(|p| p.content.len()).collect();
        assert!(lens.contains(&24) && lens.contains(&12), "{lens:?}");
    }

    #[test]
    fn cleaning_counts_each_reason() {
        let text = "a:床前明月光，疑是地上霜。\nb:床前（明月）光。\nc:短。\nd:".to_string()
            + &"长".repeat(81)
            + "\ne:山□水。山水山水。\n";
        let c = load(text.as_bytes()).unwrap();
        assert_eq!(c.report.found, 5);
        assert_eq!(c.report.kept, 1);
        assert_eq!(c.report.dropped[&DropReason::ForbiddenChar], 2);
        assert_eq!(c.report.dropped[&DropReason::TooShort], 1);
        assert_eq!(c.report.dropped[&DropReason::TooLong], 1);
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let text: String = (0..100).map(|i| format!("t{i}:{}。\n", "山水".repeat(3 + i % 5))).collect();
        let cfg = CleaningConfig::new();
        let a = load_corpus(text.as_bytes(), &cfg).unwrap();
        let b = load_corpus(text.as_bytes(), &cfg).unwrap();
        assert_eq!(a.validation, b.validation);
        assert_eq!(a.validation.len(), 5);
        assert_eq!(a.train.len(), 95);
        let c = load_corpus(text.as_bytes(), &cfg.clone().with_split_seed(7)).unwrap();
        assert_ne!(a.validation, c.validation);
        assert!(a.validation.iter().all(|v| !a.train.iter().any(|t| t.title == v.title)));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(load(b"").unwrap_err(), CorpusError::Empty);
        assert_eq!(load(b"  \n\n ").unwrap_err(), CorpusError::Empty);
        assert!(load(b"\x89PNG\r\n\x1a\n\0\0").unwrap_err().to_string().contains("binary"));
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("静夜思:床前明月光。".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(load(&utf16).unwrap_err(), CorpusError::Utf16("little-endian"));
        assert!(load(&utf16).unwrap_err().to_string().contains("UTF-16"));
        let (gbk, _, _) = encoding_rs::GBK.encode("静夜思:床前明月光，疑是地上霜。\n第二:山高水长，月明星稀。");
        let err = load(&gbk).unwrap_err();
        assert_eq!(err, CorpusError::InvalidUtf8 { line: 1, likely_gbk: true });
        assert!(err.to_string().contains("GBK"), "{err}");
        let mut bad = "ok:床前明月光，疑是地上霜。\n".as_bytes().to_vec();
        bad.extend_from_slice(b"x:\xff\xfe\xfd\n");
        let err = load(&bad).unwrap_err();
        assert!(matches!(err, CorpusError::InvalidUtf8 { line: 2, .. }), "{err:?}");
        let err = load("a:短。\nb:（注）。".as_bytes()).unwrap_err();
        assert!(matches!(err, CorpusError::NothingKept { first_line: 1, .. }));
        assert!(err.to_string().contains("no poem survived"), "{err}");
    }
}
