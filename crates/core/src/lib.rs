//! Shige core: everything about the poem model that is neither the browser nor the terminal.
//!
//! corpus -> tokenizer -> data (batches) -> model -> training -> inference, with checkpoints.
//! Every tensor read is async so the same code runs natively and in the browser.

pub mod adam_cpu;
pub mod adam_gpu;
pub mod checkpoint;
pub mod corpus;
pub mod cpu_support;
pub mod data;
#[cfg(feature = "wgpu")]
pub mod dispatch;
pub mod gru_kernel;
pub mod inference;
pub mod kernel_support;
pub mod memory;
pub mod meter;
pub mod meter_decode;
pub mod model;
pub mod novelty;
pub mod output_cpu;
pub mod output_gpu;
pub mod packed_matmul;
pub mod quality;
pub mod rhyme;
pub mod tokenizer;
pub mod training;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use corpus::{CleaningConfig, CleaningReport, Corpus, CorpusError, load_corpus};
pub use data::EncodedCorpus;
pub use inference::{GenerateError, GenerateOptions, PoemForm, StepTrace, Written, generate, generate_traced, is_well_formed};
pub use model::{Cell, ModelShape, PoemModel, PoemModelConfig};
pub use tokenizer::Vocab;
pub use training::{Evaluation, GradientFlow, TrainConfig, TrainError, Trainer};

/// Resumes a trainer from a checkpoint on `device`, re-deriving batches from `corpus`.
pub fn resume(checkpoint: &Checkpoint, corpus: &Corpus, device: &burn::tensor::Device) -> Trainer {
    let data = std::sync::Arc::new(data::EncodedCorpus::new(corpus, checkpoint.vocab.clone()));
    Trainer::with_state(
        data,
        checkpoint.model.clone(),
        checkpoint.train.clone(),
        checkpoint.train_state(device),
        device,
    )
}
