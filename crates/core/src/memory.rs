//! How much memory training a model takes, estimated, so the browser can refuse a model
//! that would not fit in wasm32's 4 GiB before it tries (and crashes the tab).
//! The factors come from peaks measured on the wasm CPU backend (BENCHMARKS.md, "Memory"):
//! the estimate is about 1.3x the measured peak of a step and a save.

use crate::model::PoemModelConfig;
use crate::training::TrainConfig;

/// Bytes per parameter at a step's peak: the weights, Adam's two moments, the gradients,
/// the updated weights and moments, and a checkpoint being read back and serialised.
const PARAM_BYTES: u64 = 42;
/// `[B*T, V]` tensors alive at once around the output layer.
const LOGIT_COPIES: u64 = 1;
/// `[B*T, gates*H]` tensors per layer kept for the backward pass.
const RECURRENT_COPIES: u64 = 4;

/// Estimated peak bytes of one training step and a save, for batches of `longest` positions
/// (the sequence cap, or the longest poem plus BOS if that is shorter).
pub fn training_bytes(model: &PoemModelConfig, train: &TrainConfig, longest: usize) -> u64 {
    let s = &model.shape;
    let positions = (train.batch_size * train.max_seq_len.min(longest.max(1))) as u64;
    let logits = positions * model.vocab_size as u64;
    let recurrent = positions * (s.hidden * s.cell.gates() * s.layers) as u64;
    let embedded = positions * s.embedding as u64;
    PARAM_BYTES * model.num_params() as u64 + 4 * (LOGIT_COPIES * logits + RECURRENT_COPIES * recurrent + embedded)
}
