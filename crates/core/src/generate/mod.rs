//! Writing poems: the decoding loop here, the form's plan of what may come next (`plan`:
//! 绝句 and 律诗, acrostics, rhyme) and the sampler (`sample`: greedy, temperature, top-k,
//! top-p), and the 平水韵 meter's masks (`meter`: 平仄 pattern and level-tone rhyme). Uses
//! `model`, `data`, `text` and `readback`.

use burn::tensor::{Int, Tensor, TensorData};
use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

pub mod attention;
pub mod meter;
pub mod plan;
pub mod sample;

pub use plan::PoemForm;

use crate::data::vocab::{BOS, EOS, PAD, Vocab};
use crate::model::{PoemModel, Probes};
use crate::readback::{ReadError, read_values};
use crate::text::rhyme::{Groups, primary_group};
use crate::text::{LINE_ENDS, is_hanzi};
use plan::{Allowed, Plan};
use sample::{sample, softmax_at, top_probabilities};

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
    /// 绝句 and 律诗 in regulated verse as Tang readers judged it: each position takes the
    /// pattern's 平仄 (一三五不论, no 孤平, no 三平尾) and the even lines rhyme in one level-tone
    /// 平水韵 group (see `meter`). It replaces `rhyme`'s modern-Mandarin rhyme.
    pub meter: bool,
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
            meter: false,
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
    #[error("the start \"{start}\" runs past the end of a line: the form's lines have {chars} characters, each followed by ， or 。")]
    StartPastLineEnd { start: String, chars: usize },
    #[error("the temperature must be finite and not negative")]
    BadTemperature,
    #[error("top-p must be a number between 0 and 1")]
    BadTopP,
    #[error("the repetition penalty must be a number of at least 1")]
    BadPenalty,
    #[error("rhyme needs a form with lines (五绝, 七绝, 五律 or 七律)")]
    RhymeNeedsForm,
    #[error("the meter needs a form with lines (五绝, 七绝, 五律 or 七律)")]
    MeterNeedsForm,
    #[error("the start \"{0}\" breaks every 平仄 pattern of the chosen form")]
    PrefixBreaksMeter(String),
    #[error(transparent)]
    Meter(#[from] meter::MeterError),
    #[error("the model's vocabulary has no Chinese characters, so it cannot write verse")]
    NoHanzi,
    #[error("the model cannot go on after \"{0}\": no allowed character has a finite score")]
    NoCandidate(String),
    #[error(transparent)]
    Read(#[from] ReadError),
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
    if options.meter && shape.is_none() {
        return Err(GenerateError::MeterNeedsForm);
    }
    let start_chars: Vec<char> = options.start.chars().filter(|c| !c.is_whitespace()).collect();
    // The form before the meter: a start the form cannot hold (longer than its line) is the
    // form's error, whatever its tones.
    if let Some((chars, lines)) = shape
        && let Some(why) = plan::start_break((chars, lines), &start_chars, &acrostic)
    {
        return Err(match why {
            plan::StartBreak::PastLineEnd => GenerateError::StartPastLineEnd { start: options.start.clone(), chars },
            plan::StartBreak::Other => GenerateError::PrefixBreaksForm(options.start.clone()),
        });
    }
    let prefix: Vec<usize> = start_chars.iter().map(|&c| id(c)).collect::<Result<_, _>>()?;
    let meter = match shape {
        Some((chars, lines)) if options.meter => {
            let form = crate::text::meter::Form { chars, lines };
            let start: Vec<char> = start_chars.iter().copied().filter(|&c| is_hanzi(c)).collect();
            let tokens = meter::MeterVocab::new((0..vocab.len()).map(|t| vocab.char_of(t)));
            let Some(plan) = meter::MeterPlan::for_start(form, &start, &acrostic, options.seed, &tokens)? else {
                return Err(GenerateError::PrefixBreaksMeter(options.start.clone()));
            };
            Some((plan, tokens))
        }
        _ => None,
    };
    // The meter brings its own (level-tone 平水韵) rhyme; the modern one would fight it.
    let token_groups = (options.rhyme && meter.is_none()).then(|| {
        // By first readings: a rare reading must not make a pair "rhyme" (see `rhyme`).
        (0..vocab.len()).map(|t| vocab.char_of(t).map_or(0, primary_group)).collect::<Vec<Groups>>()
    });
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
        line_end_marks: LINE_ENDS.iter().filter_map(|&c| vocab.id(c)).collect(),
        rhyme: token_groups,
        rhyme_set: Groups::MAX,
    };

    let mut rng = StdRng::seed_from_u64(options.seed);
    let device = model.embedding.device();
    let max_tokens = match shape {
        Some((len, lines)) => (len + 1) * lines + 1,
        None => options.max_chars.max(prefix.len()) + 1,
    };
    let mut out: Vec<char> = Vec::new();
    let mut verse: Vec<char> = Vec::new(); // the characters so far, without punctuation (for the meter)
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
                // A sampled character of a poem with a form (what the form forces never gets
                // here): the meter narrows it to the pattern's tone and rhyme.
                if let Some((meter, tokens)) = &meter
                    && let Some(allowed) = meter.mask(tokens, &verse)
                {
                    allowed.apply(&mut masked);
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
        if is_hanzi(c) {
            verse.push(c);
        }
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
