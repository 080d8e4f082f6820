//! What the page is told about a corpus and a model (camelCase in JS).

use serde::Serialize;
use shige_core::{Cell, EncodedCorpus};

/// What the page shows about a corpus.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CorpusInfo {
    poems_found: usize,
    poems_kept: usize,
    poems_train: usize,
    poems_validation: usize,
    dropped: Vec<(String, usize)>,
    chars_per_epoch: usize,
    vocab_size: usize,
}

pub(crate) fn corpus_info(data: &EncodedCorpus) -> CorpusInfo {
    let report = &data.report;
    CorpusInfo {
        poems_found: report.found,
        poems_kept: report.kept,
        poems_train: data.train.len(),
        poems_validation: data.validation.len(),
        dropped: report.dropped.iter().map(|(r, n)| (r.code().to_string(), *n)).collect(),
        chars_per_epoch: data.train_chars(),
        vocab_size: data.vocab.len(),
    }
}

/// What the page shows about a model.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Info {
    pub(crate) backend: String,
    pub(crate) fallback_reason: Option<String>,
    pub(crate) skipped_software_webgpu: bool,
    pub(crate) step: u64,
    pub(crate) epochs: f64,
    pub(crate) batches_per_epoch: usize,
    pub(crate) params: usize,
    pub(crate) tokens_seen: u64,
    pub(crate) grad_norm: f32,
    pub(crate) cell: Cell,
    pub(crate) embedding: usize,
    pub(crate) hidden: usize,
    pub(crate) layers: usize,
    pub(crate) tied: bool,
    pub(crate) heads: usize,
    pub(crate) bias: bool,
    pub(crate) learning_rate: f64,
    pub(crate) output_dropout: f64,
    pub(crate) batch_size: usize,
    /// The checkpoint's batch, when it did not fit the memory budget and the model was opened
    /// with the largest batch that does (`batch_size`).
    pub(crate) batch_reduced_from: Option<usize>,
    pub(crate) max_seq_len: usize,
    pub(crate) seed: u64,
    pub(crate) corpus: CorpusInfo,
}
