//! How the shell's failures reach JS: every error a JS `Error` with a `key` (and `vars`) the
//! page says in the reader's language, and the checks that make them (memory, step counts,
//! a busy or crashed trainer).

use shige_core::training::memory::{WASM_BUDGET_BYTES, gib, training_bytes};
use shige_core::{CleaningConfig, PoemModelConfig, TrainConfig};
use wasm_bindgen::prelude::*;

use crate::panic_message;

pub(crate) fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A rejected promise's value: a JS `Error` with the message.
pub(crate) fn reject(e: impl std::fmt::Display) -> JsValue {
    js_err(e).into()
}

/// A core error the page can say in the reader's language: a key into its string tables
/// (`error.*` in www/locales) and the values the string needs.
pub(crate) trait Coded: std::fmt::Display {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>);
}

/// A JS `Error` with the English message, and `key` and `vars` for the page's translations.
pub(crate) fn fail(e: impl Coded) -> JsValue {
    let (key, vars) = e.code();
    let error = js_sys::Error::new(&e.to_string());
    let values = js_sys::Object::new();
    for (name, value) in vars {
        let _ = js_sys::Reflect::set(&values, &JsValue::from_str(name), &JsValue::from_str(&value));
    }
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("key"), &JsValue::from_str(key));
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("vars"), &values);
    error.into()
}

impl Coded for shige_core::CorpusError {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>) {
        use shige_core::CorpusError as E;
        match self {
            E::Empty => ("error.corpus.empty", vec![]),
            E::TooLarge { size, limit } => ("error.corpus.tooLarge", vec![("mib", (size >> 20).to_string()), ("limit", (limit >> 20).to_string())]),
            E::Binary { line } => ("error.corpus.binary", vec![("line", line.to_string())]),
            E::Utf16(endian) => ("error.corpus.utf16", vec![("endian", endian.to_string())]),
            E::InvalidUtf8 { line, likely_gbk: true } => ("error.corpus.gbk", vec![("line", line.to_string())]),
            E::InvalidUtf8 { line, .. } => ("error.corpus.notUtf8", vec![("line", line.to_string())]),
            E::NothingKept { report, first_line } => {
                ("error.corpus.nothingKept", vec![("found", report.found.to_string()), ("line", first_line.to_string())])
            }
        }
    }
}

impl Coded for shige_core::CheckpointError {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>) {
        use shige_core::CheckpointError as E;
        match self {
            E::NotACheckpoint(_) => ("error.checkpoint.notOurs", vec![]),
            E::Version { found, expected } => ("error.checkpoint.version", vec![("found", found.clone()), ("expected", expected.to_string())]),
            E::Damaged(why) => ("error.checkpoint.damaged", vec![("why", why.clone())]),
            E::Mismatch(why) => ("error.checkpoint.mismatch", vec![("why", why.clone())]),
            E::NonFinite(tensor, _) => ("error.checkpoint.nonFinite", vec![("tensor", tensor.clone())]),
            E::Read(e) => e.code(),
        }
    }
}

impl Coded for shige_core::GenerateError {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>) {
        use shige_core::GenerateError as E;
        match self {
            E::UnknownChar(c) => ("error.write.unknownChar", vec![("char", c.to_string())]),
            E::NotHanzi(c) => ("error.write.notHanzi", vec![("char", c.to_string())]),
            E::MissingPunctuation(c) => ("error.write.missingPunctuation", vec![("char", c.to_string())]),
            E::AcrosticTooLong { given, lines, .. } => ("error.write.acrosticTooLong", vec![("given", given.to_string()), ("lines", lines.to_string())]),
            E::PrefixBreaksForm(start) => ("error.write.prefixBreaksForm", vec![("start", start.clone())]),
            E::StartPastLineEnd { start, chars } => ("error.write.startPastLineEnd", vec![("start", start.clone()), ("chars", chars.to_string())]),
            E::BadTemperature => ("error.write.badTemperature", vec![]),
            E::BadTopP => ("error.write.badTopP", vec![]),
            E::BadPenalty => ("error.write.badPenalty", vec![]),
            E::RhymeNeedsForm => ("error.write.rhymeNeedsForm", vec![]),
            E::MeterNeedsForm => ("error.write.meterNeedsForm", vec![]),
            E::PrefixBreaksMeter(start) => ("error.write.prefixBreaksMeter", vec![("start", start.clone())]),
            E::Meter(_) => ("error.write.meterVocabulary", vec![]),
            E::NoHanzi => ("error.write.noHanzi", vec![]),
            E::NoCandidate(so_far) => ("error.write.noCandidate", vec![("text", so_far.clone())]),
            E::Read(e) => e.code(),
        }
    }
}

impl Coded for shige_core::TrainError {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>) {
        use shige_core::TrainError as E;
        match self {
            E::NonFiniteLoss { step, loss, restored_step } => (
                "error.train.nonFinite",
                vec![("step", step.to_string()), ("value", loss.to_string()), ("restored", restored_step.to_string())],
            ),
            E::Read(e) => e.code(),
            E::NoData => ("error.train.noData", vec![]),
            E::NoValidation => ("error.train.noValidation", vec![]),
            E::Settings(why) => ("error.train.settings", vec![("why", why.clone())]),
        }
    }
}

impl Coded for shige_core::ReadError {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>) {
        ("error.train.read", vec![("why", self.0.clone())])
    }
}

/// Why a model cannot train in this tab: its estimate (`shige_core::training::memory`) is over the budget.
#[derive(Debug)]
pub(crate) enum MemoryError {
    /// The settings asked for (`Trainer.create`, or `Trainer.load` with a `batchSize`).
    TooBig { bytes: u64 },
    /// A saved model even with a batch of one poem: `bytes` is that smallest estimate.
    CheckpointTooBig { bytes: u64 },
}

impl std::fmt::Display for MemoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let budget = gib(WASM_BUDGET_BYTES);
        match self {
            MemoryError::TooBig { bytes } => write!(
                f,
                "this model needs about {} GiB to train, more than a browser tab can hold ({budget} GiB); \
                 lower hidden, embedding, batch or the sequence cap",
                gib(*bytes)
            ),
            MemoryError::CheckpointTooBig { bytes } => write!(
                f,
                "this saved model needs about {} GiB to train even one poem at a time, more than a browser \
                 tab can hold ({budget} GiB)",
                gib(*bytes)
            ),
        }
    }
}

impl Coded for MemoryError {
    fn code(&self) -> (&'static str, Vec<(&'static str, String)>) {
        match self {
            MemoryError::TooBig { bytes } => ("settings.tooBig", vec![("gib", gib(*bytes))]),
            MemoryError::CheckpointTooBig { bytes } => ("error.checkpointTooBig", vec![("gib", gib(*bytes))]),
        }
    }
}

/// The longest training sequence a corpus cleaned this way gives (its longest poem and BOS),
/// which bounds the positions of a batch in the memory estimate.
pub(crate) fn longest_sequence(cleaning: &CleaningConfig) -> usize {
    cleaning.max_chars.saturating_add(1)
}

/// The memory budget's check of `Trainer.create` and of a `batchSize` given to `Trainer.load`.
pub(crate) fn check_memory(model: &PoemModelConfig, train: &TrainConfig, cleaning: &CleaningConfig) -> Result<(), JsValue> {
    let bytes = training_bytes(model, train, longest_sequence(cleaning));
    if bytes > WASM_BUDGET_BYTES {
        return Err(fail(MemoryError::TooBig { bytes }));
    }
    Ok(())
}

/// Invalid settings as the page reports them (`error.train.settings`).
pub(crate) fn invalid_settings(why: String) -> JsValue {
    fail(shige_core::TrainError::Settings(why))
}

/// Most steps one `trainSteps` call may run: the page asks for one at a time, and a call holds
/// the trainer (nothing else can run on it) until it ends.
pub(crate) const MAX_STEPS_PER_CALL: usize = 100_000;

/// `trainSteps`'s count from a JS number: a whole number from 1 to `MAX_STEPS_PER_CALL`. A
/// `usize` argument would take -1 as 4,294,967,295 steps, and NaN or 2.5 silently.
pub(crate) fn step_count(n: f64) -> Result<usize, String> {
    if n.is_finite() && n.fract() == 0.0 && (1.0..=MAX_STEPS_PER_CALL as f64).contains(&n) {
        Ok(n as usize)
    } else {
        Err(format!("trainSteps needs a whole number of steps from 1 to {MAX_STEPS_PER_CALL} (got {n:?})"))
    }
}

/// Why the trainer cannot be borrowed: another call holds it, or a panic left it borrowed.
pub(crate) fn busy() -> String {
    match panic_message() {
        Some(p) => format!("the trainer crashed ({p}); the page restores the model"),
        None => "the trainer is busy with another call".to_string(),
    }
}
