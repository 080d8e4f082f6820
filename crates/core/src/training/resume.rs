//! Resuming a saved run: which of its settings a resumed run may set anew, and the one check of
//! the result that the page (`Trainer.load`) and the CLI (`train --resume`) both make, so a
//! checkpoint one of them refuses the other refuses too, for the same reason.

use super::checkpoint::Checkpoint;
use super::config::{InvalidSetting, Setting, TrainConfig};

/// The settings a resumed run may set anew: they steer the steps to come, and nothing saved
/// depends on them. Everything else stays the checkpoint's: the shape (the weights have it), the
/// vocabulary and its `min_char_freq`, the seed (it ordered the batches of the epoch under way)
/// and the corpus's cleaning and split (the validation poems must stay the same).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeChanges {
    pub batch_size: Option<usize>,
    pub max_seq_len: Option<usize>,
    pub learning_rate: Option<f64>,
    pub output_dropout: Option<f64>,
    pub grad_clip: Option<f64>,
}

/// Why a checkpoint cannot train on: a setting (its own, or one set anew) outside the limits a
/// new run keeps.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResumeError {
    /// A training setting; [`Setting::may_change_on_resume`] says whether a resume can repair it.
    #[error("{0}")]
    Setting(InvalidSetting),
    /// The model's shape (it cannot change: the weights have it).
    #[error("the model's shape cannot be trained: {0}")]
    Shape(String),
}

impl Setting {
    /// Whether [`ResumeChanges`] can set it anew. Adam's betas and epsilon cannot: no front end
    /// sets them, and the saved moments were made with them.
    pub fn may_change_on_resume(self) -> bool {
        !matches!(self, Setting::Adam)
    }
}

impl ResumeChanges {
    /// The checkpoint's training settings with these changes, checked as a new run's are, and
    /// its shape checked against its vocabulary. An older build's limits were wider (a sequence
    /// cap up to 4096), so a checkpoint it saved can fail here until a change brings it back.
    pub fn apply(&self, checkpoint: &Checkpoint) -> Result<TrainConfig, ResumeError> {
        let mut config = checkpoint.train.clone();
        config.batch_size = self.batch_size.unwrap_or(config.batch_size);
        config.max_seq_len = self.max_seq_len.unwrap_or(config.max_seq_len);
        config.learning_rate = self.learning_rate.unwrap_or(config.learning_rate);
        config.output_dropout = self.output_dropout.unwrap_or(config.output_dropout);
        config.grad_clip = self.grad_clip.unwrap_or(config.grad_clip);
        config.check().map_err(ResumeError::Setting)?;
        checkpoint.model.shape.validate(checkpoint.model.vocab_size).map_err(ResumeError::Shape)?;
        Ok(config)
    }
}
