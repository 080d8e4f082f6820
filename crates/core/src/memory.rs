//! How much memory training a model takes, estimated, so the browser can refuse a model
//! that would not fit in wasm32's 4 GiB before it tries (and crashes the tab).
//! The factors were measured on the wasm CPU backend (BENCHMARKS.md, "Memory").

use crate::model::PoemModelConfig;
use crate::training::TrainConfig;

/// Copies of the parameters alive at a step's peak: weights, Adam's two moments, gradients,
/// the updated weights and moments, and a checkpoint being saved (read back and serialised).
const PARAM_COPIES: usize = 14;
/// `[B*T, V]` tensors alive at once around the output layer (logits, exp, gradient, scratch).
const LOGIT_COPIES: usize = 5;
/// `[B*T, H]`-sized tensors per gate block kept for the backward pass, per layer.
const RECURRENT_COPIES: usize = 12;

/// Estimated peak bytes of one training step with these settings, at the longest sequence.
pub fn training_bytes(model: &PoemModelConfig, train: &TrainConfig) -> usize {
    let s = &model.shape;
    let positions = train.batch_size * train.max_seq_len;
    let params = model.num_params();
    let logits = positions * model.vocab_size;
    let recurrent = positions * s.hidden * s.cell.gates().max(2) * s.layers;
    let embedded = positions * s.embedding;
    4 * (PARAM_COPIES * params + LOGIT_COPIES * logits + RECURRENT_COPIES * recurrent + 4 * embedded)
}
