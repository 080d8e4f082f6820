//! A run's settings: batch, sequence cap, Adam's hyper-parameters, seed, dropout, and the
//! learning-rate schedule, with the limits every front end enforces.

use burn::config::Config;

use crate::kernels::adam::AdamParams;

#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    #[config(default = 32)]
    pub batch_size: usize,
    /// Longest training sequence (BOS + characters); longer poems are truncated.
    #[config(default = 96)]
    pub max_seq_len: usize,
    #[config(default = 2e-3)]
    pub learning_rate: f64,
    /// Largest global L2 norm of the gradients; 0 turns clipping off.
    #[config(default = 1.0)]
    pub grad_clip: f64,
    #[config(default = 0.9)]
    pub beta1: f64,
    #[config(default = 0.999)]
    pub beta2: f64,
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Seeds weight initialisation and the batch order.
    #[config(default = 42)]
    pub seed: u64,
    /// Characters rarer than this in the training split become UNK.
    #[config(default = 2)]
    pub min_char_freq: usize,
    /// Dropout on the last recurrent layer's output, before the output layer, while training
    /// (as char-rnn does; `ModelShape::dropout` is PyTorch's, between layers). 0 turns it off;
    /// it regularises a model that overfits (train loss far below held-out).
    #[config(default = 0.0)]
    pub output_dropout: f64,
}

/// How the learning rate falls over a run (after its warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    #[default]
    Constant,
    Linear,
    Cosine,
}

impl Decay {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "constant" => Some(Decay::Constant),
            "linear" => Some(Decay::Linear),
            "cosine" => Some(Decay::Cosine),
            _ => None,
        }
    }
}

/// How a run's learning rate moves: a linear warm-up over `warmup_steps`, flat until
/// `decay_from` of the run (0..1, by steps or by time), then `decay` down to `final_ratio` of the
/// peak as the run ends. `decay_from` 0 decays over the whole run (cosine's usual shape); a late
/// one holds the rate and anneals only at the end (warm-up, stable, decay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub decay: Decay,
    pub warmup_steps: u64,
    pub final_ratio: f64,
    pub decay_from: f64,
}

impl Schedule {
    /// The rate at `step` (from 0) when `progress` (0..1) of the run is done.
    pub fn lr(&self, peak: f64, step: u64, progress: f64) -> f64 {
        let warm = if self.warmup_steps == 0 { 1.0 } else { ((step + 1) as f64 / self.warmup_steps as f64).min(1.0) };
        let from = self.decay_from.clamp(0.0, 1.0);
        let p = if from >= 1.0 { 0.0 } else { ((progress - from) / (1.0 - from)).clamp(0.0, 1.0) };
        let r = self.final_ratio;
        let factor = match self.decay {
            Decay::Constant => 1.0,
            Decay::Linear => 1.0 - p * (1.0 - r),
            Decay::Cosine => r + (1.0 - r) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()),
        };
        peak * warm * factor
    }
}

/// Largest batch and sequence cap a run may have: wider than the page's form (512 and 512) and
/// the CLI's recipes (batch 16 to 64, cap 96). Beyond them no machine here could train: a batch
/// of 4096 sequences of 1024 over a 6,000-character vocabulary is already 100 GB of logits.
pub const MAX_BATCH_SIZE: usize = 4096;
pub const MAX_SEQ_LEN: usize = 1024;

/// Longest sequence and largest batch `Trainer::gradient_flow` measures.
pub const GRADIENT_FLOW_STEPS: usize = 48;
pub const GRADIENT_FLOW_BATCH: usize = 16;
/// Most poems in one validation batch. Evaluation materialises `[B*T, V]` logits, which the
/// training step's fused output layer never does: a model trained with batch 3,443 took 2.9 GiB
/// of a tab's 4 to evaluate one batch. The figures are sums over tokens, so the batch split
/// does not change them.
pub const MAX_EVAL_BATCH: usize = 64;

impl TrainConfig {
    /// The optimiser's hyper-parameters, as the Adam kernels take them.
    pub fn adam(&self) -> AdamParams {
        AdamParams { learning_rate: self.learning_rate, beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon, grad_clip: self.grad_clip }
    }

    /// Checks every setting is usable before a model is built.
    pub fn validate(&self) -> Result<(), String> {
        self.check().map_err(|e| e.message)
    }

    /// [`TrainConfig::validate`], naming the first setting out of its limits.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        let finite_in = |x: f64, lo: f64, hi: f64| x.is_finite() && x >= lo && x <= hi;
        let invalid = |setting, message: String| Err(InvalidSetting { setting, message });
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return invalid(Setting::BatchSize, format!("the batch size must be between 1 and {MAX_BATCH_SIZE} (got {})", self.batch_size));
        }
        if !(2..=MAX_SEQ_LEN).contains(&self.max_seq_len) {
            return invalid(
                Setting::MaxSeqLen,
                format!("the sequence cap must be between 2 (BOS and one character) and {MAX_SEQ_LEN} (got {})", self.max_seq_len),
            );
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 10.0) {
            return invalid(Setting::LearningRate, format!("the learning rate must be above 0 and at most 10 (got {})", self.learning_rate));
        }
        if !(finite_in(self.output_dropout, 0.0, 1.0) && self.output_dropout < 1.0) {
            return invalid(Setting::OutputDropout, format!("the output dropout must be in [0, 1) (got {})", self.output_dropout));
        }
        if !finite_in(self.grad_clip, 0.0, 1e6) {
            return invalid(Setting::GradClip, format!("the gradient clip must be between 0 and 1e6 (got {})", self.grad_clip));
        }
        if !(finite_in(self.beta1, 0.0, 1.0) && self.beta1 < 1.0 && finite_in(self.beta2, 0.0, 1.0) && self.beta2 < 1.0) {
            return invalid(Setting::Adam, "Adam's betas must be in [0, 1)".into());
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return invalid(Setting::Adam, "Adam's epsilon must be above 0".into());
        }
        Ok(())
    }
}

/// The settings [`TrainConfig::check`] checks, to say which one is out of its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    BatchSize,
    MaxSeqLen,
    LearningRate,
    OutputDropout,
    GradClip,
    /// Adam's betas and epsilon (no front end sets them).
    Adam,
}

/// A setting out of its limits, and why (the message names it and its limits).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidSetting {
    pub setting: Setting,
    pub message: String,
}
