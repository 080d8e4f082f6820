//! Writing poems: sampling (greedy, temperature, top-k, top-p), acrostics, and
//! form-constrained decoding for 绝句 and 律诗 by masking logits.
//!
//! Sampling happens on the host from logits read back asynchronously, so it works on every
//! device (burn's `topk` is not available on WebGPU) and is reproducible from a seed.

use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use crate::model::{PoemModel, Probes};
use crate::rhyme::{Groups, primary_group};
use crate::tokenizer::{BOS, EOS, PAD, UNK, Vocab};
use crate::training::{TrainError, read_values};

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GenerateOptions {
    /// The poem starts with these characters (one character, or a longer prefix).
    pub start: String,
    /// 0 means greedy.
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p; 1 keeps all.
    pub top_p: f32,
    pub seed: u64,
    pub form: PoemForm,
    /// 藏头诗: line i starts with the i-th character.
    pub acrostic: String,
    /// Most characters in a free poem.
    pub max_chars: usize,
    /// 绝句 and 律诗: the even lines end in characters of one rhyme group (see `rhyme`).
    pub rhyme: bool,
    /// Above 1, characters already in the poem are made less likely (CTRL's penalty: positive
    /// logits divided by it, negative ones multiplied); 1 leaves them alone.
    pub repetition_penalty: f32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            start: String::new(),
            temperature: 0.8,
            top_k: 0,
            top_p: 0.95,
            seed: 0,
            form: PoemForm::Free,
            acrostic: String::new(),
            max_chars: 80,
            rhyme: false,
            repetition_penalty: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error("the character '{0}' is not in the model's vocabulary; choose another start character")]
    UnknownChar(char),
    #[error("'{0}' is not a Chinese character a poem line can start with")]
    NotHanzi(char),
    #[error("the model's vocabulary has no '{0}', which this form needs at line ends")]
    MissingPunctuation(char),
    #[error("the acrostic has {given} characters but a {form:?} poem has {lines} lines")]
    AcrosticTooLong { given: usize, lines: usize, form: PoemForm },
    #[error("the start \"{0}\" does not fit the chosen form")]
    PrefixBreaksForm(String),
    #[error("the temperature must be finite and not negative")]
    BadTemperature,
    #[error("top-p must be a number between 0 and 1")]
    BadTopP,
    #[error("the repetition penalty must be a number of at least 1")]
    BadPenalty,
    #[error("rhyme needs a form with lines (五绝, 七绝, 五律 or 七律)")]
    RhymeNeedsForm,
    #[error("the model's vocabulary has no Chinese characters, so it cannot write verse")]
    NoHanzi,
    #[error("the model cannot go on after \"{0}\": no allowed character has a finite score")]
    NoCandidate(String),
    #[error(transparent)]
    Device(#[from] TrainError),
}

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
        } else if ['，', '。', '？', '！', '；'].contains(&c) && line > 0 {
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

/// What the decoder may emit next.
enum Allowed {
    Any,
    /// Any character, not the end: an acrostic still has lines to write.
    Text,
    Hanzi,
    /// A Chinese character sharing a rhyme group with the rhyming lines so far.
    Rhyme,
    Only(usize),
}

/// Tracks the position in the poem and says which tokens may come next.
struct Plan<'a> {
    vocab: &'a Vocab,
    shape: Option<(usize, usize)>,
    acrostic: Vec<usize>,
    comma: usize,
    period: usize,
    /// Characters of the current line and finished lines so far.
    col: usize,
    line: usize,
    /// Free verse: an acrostic's line ends at either mark.
    line_end_marks: Vec<usize>,
    /// With rhyme: each token's rhyme groups, and the groups the rhyming lines so far share.
    rhyme: Option<Vec<Groups>>,
    rhyme_set: Groups,
}

impl<'a> Plan<'a> {
    fn next(&self) -> Allowed {
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

    fn accepts(&self, token: usize) -> bool {
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

    fn push(&mut self, token: usize) {
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

/// What the model saw and felt while writing one character (for the classroom's views).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepTrace {
    pub char: char,
    /// The most likely next characters before this one was chosen, with the model's
    /// probabilities (softmax of its logits, before temperature and masks).
    pub top: Vec<(char, f32)>,
    /// The model's probability of the character that was chosen (it may be outside `top`).
    pub probability: f32,
    /// The last layer after reading this character: the gate that keeps the past (GRU z,
    /// LSTM f; empty for the plain RNN) and the hidden state, `[H]` each.
    pub gate: Vec<f32>,
    pub hidden: Vec<f32>,
}

/// A poem with, when asked for, a trace of each character.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Written {
    pub text: String,
    pub steps: Vec<StepTrace>,
}

/// Characters listed per step in a trace.
pub const TRACE_TOP: usize = 10;
/// Extra candidates kept for the top list, since special tokens (not characters) are skipped.
const SPECIALS_ROOM: usize = 4;

/// Writes one poem. The text returned starts with `options.start` (or the first acrostic
/// character) and ends at EOS, at the form's last line, or at `max_chars`.
pub async fn generate(model: &PoemModel, vocab: &Vocab, options: &GenerateOptions) -> Result<String, GenerateError> {
    Ok(write(model, vocab, options, false).await?.text)
}

/// `generate`, also recording each step's top characters, gates and hidden state.
pub async fn generate_traced(model: &PoemModel, vocab: &Vocab, options: &GenerateOptions) -> Result<Written, GenerateError> {
    write(model, vocab, options, true).await
}

async fn write(model: &PoemModel, vocab: &Vocab, options: &GenerateOptions, trace: bool) -> Result<Written, GenerateError> {
    if !options.temperature.is_finite() || options.temperature < 0.0 {
        return Err(GenerateError::BadTemperature);
    }
    if !(options.top_p.is_finite() && (0.0..=1.0).contains(&options.top_p)) {
        return Err(GenerateError::BadTopP);
    }
    let id = |c: char| vocab.id(c).ok_or(GenerateError::UnknownChar(c));
    let shape = options.form.shape();
    let acrostic: Vec<char> = options.acrostic.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(c) = acrostic.iter().find(|c| !is_hanzi(**c)) {
        return Err(GenerateError::NotHanzi(*c));
    }
    if let Some((_, lines)) = shape
        && acrostic.len() > lines
    {
        return Err(GenerateError::AcrosticTooLong { given: acrostic.len(), lines, form: options.form });
    }
    if shape.is_some() && !vocab.chars().iter().any(|&c| is_hanzi(c)) {
        return Err(GenerateError::NoHanzi);
    }
    if !(options.repetition_penalty.is_finite() && options.repetition_penalty >= 1.0) {
        return Err(GenerateError::BadPenalty);
    }
    if options.rhyme && shape.is_none() {
        return Err(GenerateError::RhymeNeedsForm);
    }
    let token_groups = options.rhyme.then(|| {
        // By first readings: a rare reading must not make a pair "rhyme" (see `rhyme`).
        (0..vocab.len()).map(|t| vocab.char_of(t).map_or(0, primary_group)).collect::<Vec<Groups>>()
    });
    let marks = ['，', '。', '？', '！', '；'];
    let need = |c: char| vocab.id(c).ok_or(GenerateError::MissingPunctuation(c));
    let (comma, period) = match shape {
        Some(_) => (need('，')?, need('。')?),
        None => (vocab.id('，').unwrap_or(PAD), vocab.id('。').unwrap_or(PAD)),
    };
    let mut plan = Plan {
        vocab,
        shape,
        acrostic: acrostic.iter().map(|&c| id(c)).collect::<Result<_, _>>()?,
        comma,
        period,
        col: 0,
        line: 0,
        line_end_marks: marks.iter().filter_map(|&c| vocab.id(c)).collect(),
        rhyme: token_groups,
        rhyme_set: Groups::MAX,
    };
    let prefix: Vec<usize> = options.start.chars().filter(|c| !c.is_whitespace()).map(id).collect::<Result<_, _>>()?;

    let mut rng = StdRng::seed_from_u64(options.seed);
    let device = model.embedding.device();
    let max_tokens = match shape {
        Some((len, lines)) => (len + 1) * lines + 1,
        None => options.max_chars.max(prefix.len()) + 1,
    };
    let mut out: Vec<char> = Vec::new();
    let mut steps: Vec<StepTrace> = Vec::new();
    let mut state = None;
    let mut token = BOS;
    for step in 0..=max_tokens {
        let input = Tensor::<2, Int>::from_data(TensorData::new(vec![token as i32], [1, 1]), &device);
        let mut probes = Probes { hidden: None, gates: trace.then(Vec::new) };
        let (logits, next_state) = model.forward_probed(input, state, &mut probes);
        if trace && step > 0 {
            // The state after reading the character chosen last.
            let last = steps.last_mut().expect("one trace per character");
            last.hidden = read_values(next_state.h.clone().narrow(0, next_state.h.dims()[0] - 1, 1)).await?;
            if let Some(gate) = probes.gates.and_then(|mut g| g.pop()) {
                last.gate = read_values(gate).await?;
            }
        }
        state = Some(next_state);
        if step == max_tokens {
            break; // only read the last character's state
        }
        let forced = match prefix.get(step) {
            Some(&t) if !plan.accepts(t) => return Err(GenerateError::PrefixBreaksForm(options.start.clone())),
            Some(&t) => Some(t),
            None => match plan.next() {
                Allowed::Only(t) => Some(t),
                _ => None,
            },
        };
        let scores = if trace || forced.is_none() { Some(read_values(logits).await?) } else { None };
        let next = match forced {
            Some(t) => t,
            None => {
                let mut masked = scores.clone().expect("read above");
                for (t, s) in masked.iter_mut().enumerate() {
                    if !plan.accepts(t) {
                        *s = f32::NEG_INFINITY;
                    }
                }
                if options.repetition_penalty > 1.0 {
                    let p = options.repetition_penalty;
                    let used: std::collections::HashSet<usize> =
                        out.iter().filter(|&&c| is_hanzi(c)).filter_map(|&c| vocab.id(c)).collect();
                    for t in used {
                        let s = &mut masked[t];
                        *s = if *s > 0.0 { *s / p } else { *s * p };
                    }
                }
                sample(&masked, options, &mut rng).ok_or_else(|| GenerateError::NoCandidate(out.iter().collect()))?
            }
        };
        if next == EOS {
            break;
        }
        let c = vocab.char_of(next).ok_or_else(|| GenerateError::NoCandidate(out.iter().collect()))?;
        out.push(c);
        if trace {
            let scores = scores.as_deref().expect("read when tracing");
            let (top, probability) = (top_probabilities(scores, vocab, TRACE_TOP), softmax_at(scores, next));
            steps.push(StepTrace { char: c, top, probability, gate: Vec::new(), hidden: Vec::new() });
        }
        plan.push(next);
        token = next;
    }
    Ok(Written { text: out.into_iter().collect(), steps })
}

/// softmax(logits)[index].
fn softmax_at(logits: &[f32], index: usize) -> f32 {
    let top = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    let total: f64 = logits.iter().filter(|l| l.is_finite()).map(|&l| ((l - top) as f64).exp()).sum();
    (((logits[index] - top) as f64).exp() / total) as f32
}

/// The `k` most likely characters under softmax(logits).
fn top_probabilities(logits: &[f32], vocab: &Vocab, k: usize) -> Vec<(char, f32)> {
    let top = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    let total: f64 = logits.iter().filter(|l| l.is_finite()).map(|&l| ((l - top) as f64).exp()).sum();
    let mut ranked: Vec<(usize, f32)> = logits.iter().copied().enumerate().filter(|(_, l)| l.is_finite()).collect();
    // Only the top k need ordering: select them in linear time, then sort those.
    let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if ranked.len() > k + SPECIALS_ROOM {
        ranked.select_nth_unstable_by(k + SPECIALS_ROOM, by_score);
        ranked.truncate(k + SPECIALS_ROOM);
    }
    ranked.sort_by(by_score);
    ranked
        .into_iter()
        .filter_map(|(t, l)| vocab.char_of(t).map(|c| (c, (((l - top) as f64).exp() / total) as f32)))
        .take(k)
        .collect()
}

/// Picks a token from masked logits (masked entries are -inf); `None` when no entry is finite.
fn sample(logits: &[f32], options: &GenerateOptions, rng: &mut StdRng) -> Option<usize> {
    let mut ranked: Vec<(usize, f32)> =
        logits.iter().copied().enumerate().filter(|(_, l)| l.is_finite()).collect();
    // Stable sort: equal logits keep vocabulary order, so greedy picks the lowest id.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    if ranked.is_empty() || options.temperature == 0.0 {
        return ranked.first().map(|r| r.0);
    }
    if options.top_k > 0 {
        ranked.truncate(options.top_k);
    }
    let top = ranked[0].1;
    let mut probs: Vec<f64> =
        ranked.iter().map(|(_, l)| (((l - top) / options.temperature) as f64).exp()).collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    if options.top_p > 0.0 && options.top_p < 1.0 {
        let mut mass = 0.0;
        let keep = probs.iter().take_while(|&&p| {
            let before = mass;
            mass += p;
            before < options.top_p as f64
        });
        let keep = keep.count().max(1);
        probs.truncate(keep);
    }
    let total: f64 = probs.iter().sum();
    let mut draw = rng.random::<f64>() * total;
    for (i, p) in probs.iter().enumerate() {
        draw -= p;
        if draw <= 0.0 {
            return Some(ranked[i].0);
        }
    }
    Some(ranked[probs.len() - 1].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_respects_masks_top_k_and_greedy() {
        let logits = [f32::NEG_INFINITY, 1.0, 3.0, 2.0, f32::NEG_INFINITY];
        let mut rng = StdRng::seed_from_u64(1);
        let greedy = GenerateOptions { temperature: 0.0, ..Default::default() };
        assert_eq!(sample(&logits, &greedy, &mut rng), Some(2));
        assert_eq!(sample(&[f32::NEG_INFINITY; 3], &greedy, &mut rng), None);
        let top2 = GenerateOptions { temperature: 5.0, top_k: 2, top_p: 1.0, ..Default::default() };
        for _ in 0..200 {
            let t = sample(&logits, &top2, &mut rng);
            assert!(t == Some(2) || t == Some(3), "{t:?}");
        }
        let nucleus = GenerateOptions { temperature: 1.0, top_p: 0.5, ..Default::default() };
        for _ in 0..200 {
            assert_eq!(sample(&logits, &nucleus, &mut rng), Some(2));
        }
    }

    #[test]
    fn well_formed_verse() {
        assert!(is_well_formed("床前明月光，疑是地上霜。举头望明月，低头思故乡。"));
        assert!(is_well_formed("朝辞白帝彩云间，千里江陵一日还。"));
        assert!(!is_well_formed("床前明月光，疑是地上霜"));
        assert!(!is_well_formed("床前明月光，疑是地上。"));
        assert!(!is_well_formed("床前明月光。"));
        assert!(!is_well_formed("床前明月，疑是地上。"));
    }

    #[test]
    fn forms_parse_by_name() {
        assert_eq!(PoemForm::parse("五绝"), Some(PoemForm::Wujue));
        assert_eq!(PoemForm::parse("qilv"), Some(PoemForm::Qilv));
        assert_eq!(PoemForm::parse("sonnet"), None);
    }
}
