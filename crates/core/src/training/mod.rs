//! Training: a run's settings (`config`), the step, gradient flow and evaluation (`trainer`),
//! saving and resuming (`checkpoint`; `resume`: what a resumed run may change, checked once for
//! the page and the CLI), PyTorch-named weights (`export`), the memory a run will need
//! (`memory`), and one step seen and a line's guesses as training goes on (`lesson`). Uses
//! `model`, `kernels` (the output layer and Adam), `data` and `readback`.

pub mod checkpoint;
pub mod config;
pub mod export;
pub mod lesson;
pub mod memory;
pub mod resume;
mod trainer;

pub use crate::kernels::adam::AdamState;
pub use config::{
    Decay, GRADIENT_FLOW_BATCH, GRADIENT_FLOW_STEPS, InvalidSetting, MAX_BATCH_SIZE, MAX_EVAL_BATCH, MAX_SEQ_LEN, Schedule, Setting, TrainConfig,
};
pub use resume::{ResumeChanges, ResumeError};
pub use trainer::{Evaluation, GradientFlow, TrainState, Trainer, masked_cross_entropy};

use crate::readback::ReadError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error(
        "step {step} gave a loss or gradient of {loss}, so it was not applied; the model is \
         still the one from step {restored_step}. Lower the learning rate or the gradient clip and continue"
    )]
    NonFiniteLoss { step: u64, loss: f32, restored_step: u64 },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("there are no training poems: load a corpus to train on")]
    NoData,
    #[error("there are no held-out poems to measure the model on")]
    NoValidation,
    #[error("invalid settings: {0}")]
    Settings(String),
}
