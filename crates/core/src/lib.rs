//! Shige core: everything about the poem model that is neither the browser nor the terminal.
//!
//! In layers, each using only those before it: `text` and `readback` -> `data` (corpus ->
//! vocab -> batches) -> `kernels` -> `model` -> `training` (with checkpoints) -> `generate` ->
//! `eval`. Every tensor read is async so the same code runs natively and in the browser.

pub mod data;
pub mod eval;
pub mod generate;
pub mod kernels;
pub mod model;
pub mod readback;
pub mod text;
pub mod training;

pub use data::batch::EncodedCorpus;
pub use data::corpus::{CleaningConfig, CleaningReport, Corpus, CorpusError, load_corpus};
pub use data::vocab::Vocab;
pub use generate::{GenerateError, GenerateOptions, PoemForm, StepTrace, Written, generate, generate_traced};
pub use model::{Cell, ModelShape, PoemModel, PoemModelConfig};
pub use readback::ReadError;
pub use text::is_well_formed;
pub use training::checkpoint::{Checkpoint, CheckpointError};
pub use training::{Evaluation, GradientFlow, TrainConfig, TrainError, Trainer};

/// Resumes a trainer from a checkpoint on `device`, re-deriving batches from `corpus`.
pub fn resume(checkpoint: &Checkpoint, corpus: &Corpus, device: &burn::tensor::Device) -> Trainer {
    let data = std::sync::Arc::new(EncodedCorpus::new(corpus, checkpoint.vocab.clone()));
    Trainer::with_state(
        data,
        checkpoint.model.clone(),
        checkpoint.train.clone(),
        checkpoint.train_state(device),
        device,
    )
}
