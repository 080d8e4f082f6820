//! Character vocabulary: four special tokens, then characters by descending frequency.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::corpus::Poem;

pub const PAD: usize = 0;
pub const UNK: usize = 1;
pub const BOS: usize = 2;
pub const EOS: usize = 3;
const SPECIALS: [&str; 4] = ["<pad>", "<unk>", "<bos>", "<eos>"];

/// Maps characters to token ids and back. Serialised as its token list so it can travel
/// inside checkpoints and next to exported weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VocabFile", into = "VocabFile")]
pub struct Vocab {
    chars: Vec<char>,
    index: HashMap<char, usize>,
}

#[derive(Serialize, Deserialize)]
struct VocabFile {
    tokens: Vec<String>,
}

impl Vocab {
    /// Builds the vocabulary from training poems. Characters seen fewer than `min_freq`
    /// times map to UNK. Ties in frequency are broken by code point so the order is stable.
    pub fn build(poems: &[Poem], min_freq: usize) -> Self {
        let mut counts: HashMap<char, usize> = HashMap::new();
        for c in poems.iter().flat_map(|p| &p.content) {
            *counts.entry(*c).or_default() += 1;
        }
        let mut by_freq: Vec<(char, usize)> =
            counts.into_iter().filter(|&(_, n)| n >= min_freq.max(1)).collect();
        by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Self::from_chars(by_freq.into_iter().map(|(c, _)| c).collect())
    }

    fn from_chars(chars: Vec<char>) -> Self {
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i + SPECIALS.len())).collect();
        Self { chars, index }
    }

    /// Tokens including the four specials.
    pub fn len(&self) -> usize {
        self.chars.len() + SPECIALS.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn id(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// Token id of `c`, UNK when it is not in the vocabulary.
    pub fn encode_char(&self, c: char) -> usize {
        self.id(c).unwrap_or(UNK)
    }

    /// The character of a non-special token.
    pub fn char_of(&self, id: usize) -> Option<char> {
        id.checked_sub(SPECIALS.len()).and_then(|i| self.chars.get(i)).copied()
    }

    /// Share of the poems' characters that this vocabulary does not know (0 for no poems).
    pub fn unknown_share(&self, poems: &[Poem]) -> f64 {
        let (mut unknown, mut total) = (0usize, 0usize);
        for c in poems.iter().flat_map(|p| &p.content) {
            total += 1;
            unknown += self.id(*c).is_none() as usize;
        }
        unknown as f64 / total.max(1) as f64
    }

    /// All characters, most frequent first.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }
}

impl From<Vocab> for VocabFile {
    fn from(v: Vocab) -> Self {
        let tokens = SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(v.chars.iter().map(|c| c.to_string()))
            .collect();
        VocabFile { tokens }
    }
}

impl TryFrom<VocabFile> for Vocab {
    type Error = String;
    fn try_from(file: VocabFile) -> Result<Self, String> {
        let (specials, rest) = file.tokens.split_at(SPECIALS.len().min(file.tokens.len()));
        if specials != SPECIALS {
            return Err(format!("vocabulary must start with {SPECIALS:?}"));
        }
        let mut chars = Vec::with_capacity(rest.len());
        for token in rest {
            let mut it = token.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => chars.push(c),
                _ => return Err(format!("vocabulary token {token:?} is not one character")),
            }
        }
        let vocab = Self::from_chars(chars);
        if vocab.index.len() != vocab.chars.len() {
            return Err("vocabulary has duplicate characters".into());
        }
        Ok(vocab)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poem(s: &str) -> Poem {
        Poem { title: String::new(), content: s.chars().collect() }
    }

    #[test]
    fn specials_then_frequency_then_code_point() {
        let v = Vocab::build(&[poem("月山月日山月"), poem("乙甲")], 1);
        assert_eq!(v.len(), 4 + 5);
        assert_eq!(v.chars(), &['月', '山', '乙', '日', '甲']);
        assert_eq!(v.id('月'), Some(4));
        assert_eq!(v.encode_char('海'), UNK);
        assert_eq!(v.char_of(5), Some('山'));
        assert_eq!(v.char_of(BOS), None);
    }

    #[test]
    fn min_freq_drops_rare_chars() {
        let v = Vocab::build(&[poem("月山月日山月")], 2);
        assert_eq!(v.chars(), &['月', '山']);
    }

    #[test]
    fn json_round_trip_and_rejects_bad_files() {
        let v = Vocab::build(&[poem("床前明月光")], 1);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Vocab>(&json).unwrap(), v);
        assert!(serde_json::from_str::<Vocab>(r#"{"tokens":["月"]}"#).is_err());
        assert!(serde_json::from_str::<Vocab>(r#"{"tokens":["<pad>","<unk>","<bos>","<eos>","月月"]}"#).is_err());
    }
}
