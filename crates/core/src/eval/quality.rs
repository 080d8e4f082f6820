//! Poems the way readers judge them: sampled poems' well-formedness, rhyme, how much is
//! copied from the training poems, how much repeats, and how fast they are written. The CLI's
//! `shige eval` and the page's quality panel print the same figures from here.

use serde::Serialize;

use super::novelty::CopyIndex;
use crate::data::vocab::Vocab;
use crate::generate::{GenerateError, GenerateOptions, PoemForm, generate};
use crate::model::PoemModel;
use crate::text::meter;
use crate::text::rhyme::rhymes;
use crate::text::{is_hanzi, is_well_formed};

/// Start characters for samples: the vocabulary's most frequent Chinese characters, in turn.
pub const START_CHARS: usize = 50;

/// The quality figures of a model (shares are 0..1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    pub samples: usize,
    /// Free poems that came out as regular 五言 or 七言 verse.
    pub well_formed: f64,
    /// 五绝 and 七绝 (forms imposed) whose even lines rhyme, without and with rhyme-constrained decoding.
    pub rhyme_wujue: f64,
    pub rhyme_qijue: f64,
    pub rhyme_qijue_constrained: f64,
    /// Poems that pass the whole 格律 check (平水韵 rhyme, 平仄 pattern, 粘对, no 孤平 or
    /// 三平尾): free poems, 七绝 (form imposed) and 七绝 with meter-constrained decoding.
    pub meter_free: f64,
    pub meter_qijue: f64,
    pub meter_qijue_constrained: f64,
    /// Longest run of characters shared with a training poem, mean and most, over free poems.
    pub copied_mean: f64,
    pub copied_max: usize,
    /// Free poems that contain a whole training line.
    pub copies_a_line: f64,
    /// Repeated characters within a poem, mean over free poems.
    pub repeated: f64,
    /// Characters written per second (all samples).
    pub chars_per_second: f64,
}

/// Samples `samples` poems of each kind with `sampling` (its `start`, `form`, `rhyme` and
/// `meter` are set here) and measures them. `now_ms` is the clock (the browser has no `Instant`).
pub async fn measure(
    model: &PoemModel,
    vocab: &Vocab,
    index: &CopyIndex,
    sampling: &GenerateOptions,
    samples: usize,
    now_ms: &dyn Fn() -> f64,
) -> Result<Quality, GenerateError> {
    let starts: Vec<char> = vocab.chars().iter().copied().filter(|&c| is_hanzi(c)).take(START_CHARS).collect();
    if starts.is_empty() {
        return Err(GenerateError::NoHanzi);
    }
    let samples = samples.max(1);
    let (mut chars, started) = (0usize, now_ms());
    let mut write = async |i: usize, form: PoemForm, rhyme: bool, meter: bool| -> Result<String, GenerateError> {
        let options = GenerateOptions {
            start: starts[i % starts.len()].to_string(),
            seed: sampling.seed.wrapping_add(i as u64),
            form,
            rhyme,
            meter,
            acrostic: String::new(),
            ..sampling.clone()
        };
        let poem = generate(model, vocab, &options).await?;
        chars += poem.chars().count();
        Ok(poem)
    };
    let passes = |poem: &str| meter::check(poem).is_some_and(|r| r.passes()) as usize;
    let (mut well_formed, mut copies, mut copied_sum, mut copied_max, mut repeated) = (0, 0, 0usize, 0, 0.0);
    let mut meter_free = 0;
    for i in 0..samples {
        let poem = write(i, PoemForm::Free, false, false).await?;
        well_formed += is_well_formed(&poem) as usize;
        meter_free += passes(&poem);
        let n = index.measure(&poem);
        copies += n.copies_a_line as usize;
        copied_sum += n.longest_copied;
        copied_max = copied_max.max(n.longest_copied);
        repeated += n.repeated;
    }
    // The share of `samples` poems of `form` that rhyme (中华新韵) and that pass the 格律 check.
    let mut rates = async |form: PoemForm, rhyme: bool, meter: bool| -> Result<(f64, f64), GenerateError> {
        let (mut rhyming, mut passing) = (0, 0);
        for i in 0..samples {
            let poem = write(i, form, rhyme, meter).await?;
            rhyming += (rhymes(&poem) == Some(true)) as usize;
            passing += passes(&poem);
        }
        Ok((rhyming as f64 / samples as f64, passing as f64 / samples as f64))
    };
    let (rhyme_wujue, _) = rates(PoemForm::Wujue, false, false).await?;
    let (rhyme_qijue, meter_qijue) = rates(PoemForm::Qijue, false, false).await?;
    let (rhyme_qijue_constrained, _) = rates(PoemForm::Qijue, true, false).await?;
    let (_, meter_qijue_constrained) = rates(PoemForm::Qijue, false, true).await?;
    let seconds = ((now_ms() - started) / 1000.0).max(1e-9);
    let n = samples as f64;
    Ok(Quality {
        samples,
        well_formed: well_formed as f64 / n,
        rhyme_wujue,
        rhyme_qijue,
        rhyme_qijue_constrained,
        meter_free: meter_free as f64 / n,
        meter_qijue,
        meter_qijue_constrained,
        copied_mean: copied_sum as f64 / n,
        copied_max,
        copies_a_line: copies as f64 / n,
        repeated: repeated / n,
        chars_per_second: chars as f64 / seconds,
    })
}
