//! Shige core: everything about the poem model that is neither the browser nor the terminal.
//!
//! corpus -> tokenizer -> data (batches) -> model -> training -> inference, with checkpoints.
//! Every tensor read is async so the same code runs natively and in the browser.

pub mod checkpoint;
pub mod corpus;
pub mod data;
pub mod inference;
pub mod model;
pub mod tokenizer;
pub mod training;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use corpus::{CleaningConfig, CleaningReport, Corpus, CorpusError, load_corpus};
pub use inference::{GenerateError, GenerateOptions, PoemForm, generate, is_well_formed};
pub use model::{ModelShape, PoemModel, PoemModelConfig};
pub use tokenizer::Vocab;
pub use training::{Evaluation, TrainConfig, TrainError, Trainer};

/// Resumes a trainer from a checkpoint on `device`, re-deriving batches from `corpus`.
pub fn resume(checkpoint: &Checkpoint, corpus: &Corpus, device: &burn::tensor::Device) -> Trainer {
    Trainer::with_state(
        corpus,
        checkpoint.vocab.clone(),
        checkpoint.model.clone(),
        checkpoint.train.clone(),
        checkpoint.train_state(device),
        device,
    )
}
