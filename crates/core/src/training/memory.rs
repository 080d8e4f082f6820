//! How much memory training a model takes, estimated, so the browser can refuse a model
//! that would not fit in wasm32's 4 GiB before it tries (and crashes the tab).
//! The factors come from peaks measured on the wasm CPU backend (BENCHMARKS.md, "Memory"):
//! the estimate is about 1.3x the measured peak of a step and a save.
//!
//! Every product is taken in checked `u64`: on wasm32 `usize` is 32 bits, and a batch of
//! 53,024,288 poems of 81 positions is 2^32 + 32 positions, which wrapped to 32 and passed
//! the check. A product too large for `u64` saturates, so an absurd request is "too big".

use crate::model::{Cell, PoemModelConfig};
use super::TrainConfig;

/// The most a browser tab's training may use: wasm32 addresses 4 GiB, and the page, the
/// module and the allocator's slack need the rest. The page reads this figure (`memoryBudget`).
pub const WASM_BUDGET_BYTES: u64 = 3 << 30;

/// Bytes per parameter at a step's peak: the weights, Adam's two moments, the gradients,
/// the updated weights and moments, and a checkpoint being read back and serialised.
const PARAM_BYTES: u64 = 42;
/// `[B*T, V]` tensors alive at once around the output layer.
const LOGIT_COPIES: u64 = 1;
/// `[B*T, gates*H]` tensors per layer kept for the backward pass.
const RECURRENT_COPIES: u64 = 4;
/// The Transformer's `[B*T, E]`-wide tensors per block kept for the backward pass, counted from
/// the block's ops as autodiff keeps them: the LayerNorms' inputs and outputs, q, k, v and
/// their per-head copies, the attention's output, c_attn's 3E and the MLP's 4E before and
/// after GELU (and erf's), the residual sums. Not yet measured in a tab (BENCHMARKS.md).
const TRANSFORMER_WIDTHS: u64 = 32;
/// `[B, H, T, T]` tensors per block: the scores, scaled, masked, shifted, exponentiated and
/// normalised (burn's attention under autodiff is its unfused fallback).
const ATTENTION_COPIES: u64 = 6;
/// Bytes of an f32.
const F32_BYTES: u64 = 4;
/// The largest single allocation on wasm32: a Rust allocation is at most `isize::MAX` bytes,
/// 2 GiB less one on a 32-bit target. A `[B*T, V]` tensor past it cannot be made whatever the
/// total (a model trained with batch 3,443 over 2,685 characters crashed its second step with
/// "capacity overflow" under a 3.0 GiB estimate).
const MAX_WASM_ALLOCATION: u64 = (1 << 31) - 1;
/// The estimate given to settings with a tensor past `MAX_WASM_ALLOCATION`: more than a tab
/// has (wasm32's whole address space), so every check refuses them.
const CANNOT_ALLOCATE: u64 = 4 << 30;

/// Estimated peak bytes of one training step and a save, for batches of `longest` positions
/// (the sequence cap, or the longest poem plus BOS if that is shorter); `u64::MAX` when the
/// figure does not fit in a `u64`, and at least 4 GiB when one tensor is past wasm32's largest
/// allocation.
pub fn training_bytes(model: &PoemModelConfig, train: &TrainConfig, longest: usize) -> u64 {
    checked_training_bytes(model, train, longest).unwrap_or(u64::MAX)
}

/// Whether training with these settings fits in `budget` bytes.
pub fn fits(model: &PoemModelConfig, train: &TrainConfig, longest: usize, budget: u64) -> bool {
    training_bytes(model, train, longest) <= budget
}

/// The largest batch size, at most `train.batch_size`, whose estimate fits in `budget`; `None`
/// when even a batch of one does not (the weights and Adam's moments alone are too big).
/// Opens a model trained with a batch the browser cannot hold, at a batch it can.
pub fn largest_fitting_batch(model: &PoemModelConfig, train: &TrainConfig, longest: usize, budget: u64) -> Option<usize> {
    let fits_with = |batch_size| fits(model, &TrainConfig { batch_size, ..train.clone() }, longest, budget);
    if train.batch_size == 0 || !fits_with(1) {
        return None;
    }
    if fits_with(train.batch_size) {
        return Some(train.batch_size);
    }
    // The estimate grows with the batch: binary search for the last batch that fits.
    let (mut fitting, mut too_big) = (1, train.batch_size);
    while too_big - fitting > 1 {
        let mid = fitting + (too_big - fitting) / 2;
        if fits_with(mid) { fitting = mid } else { too_big = mid }
    }
    Some(fitting)
}

/// Bytes as GiB with one decimal ("3.2"), as the page's messages show them.
pub fn gib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1u64 << 30) as f64)
}

fn checked_training_bytes(model: &PoemModelConfig, train: &TrainConfig, longest: usize) -> Option<u64> {
    let s = &model.shape;
    // usize is at most 64 bits on every target, so widening never loses a value.
    let wide = |n: usize| n as u64;
    let positions = wide(train.batch_size).checked_mul(wide(train.max_seq_len.min(longest.max(1))))?;
    let logits = positions.checked_mul(wide(model.vocab_size))?;
    let embedded = positions.checked_mul(wide(s.embedding))?;
    // The layers' activations, and their widest single tensor.
    let (layers, widest) = if s.cell == Cell::Transformer {
        let t = wide(train.max_seq_len.min(longest.max(1)).min(s.block_size));
        let scores = wide(train.batch_size).checked_mul(wide(s.heads))?.checked_mul(t.checked_mul(t)?)?;
        let per_block = TRANSFORMER_WIDTHS.checked_mul(embedded)?.checked_add(ATTENTION_COPIES.checked_mul(scores)?)?;
        (per_block.checked_mul(wide(s.layers))?, scores.max(embedded.checked_mul(4)?))
    } else {
        let gate_width = wide(s.hidden).checked_mul(wide(s.cell.gates()))?;
        let recurrent = positions.checked_mul(gate_width)?;
        (RECURRENT_COPIES.checked_mul(recurrent)?.checked_mul(wide(s.layers))?, recurrent)
    };
    let activations = (LOGIT_COPIES.checked_mul(logits)?).checked_add(layers)?.checked_add(embedded)?;
    let total = PARAM_BYTES.checked_mul(param_count(model)?)?.checked_add(F32_BYTES.checked_mul(activations)?)?;
    let largest = F32_BYTES.checked_mul(logits.max(widest).max(embedded))?;
    Some(if largest > MAX_WASM_ALLOCATION { total.max(CANNOT_ALLOCATE) } else { total })
}

/// `PoemModelConfig::num_params` in checked `u64`, without listing the tensors: the page asks
/// for estimates of settings not yet validated (a million layers must not allocate a list).
fn param_count(model: &PoemModelConfig) -> Option<u64> {
    let s = &model.shape;
    let wide = |n: usize| n as u64;
    let (vocab, embedding, hidden) = (wide(model.vocab_size), wide(s.embedding), wide(s.hidden));
    if s.cell == Cell::Transformer {
        // Each block: c_attn 3E², c_proj E², c_fc and the MLP's c_proj 4E² each, two LayerNorm
        // weights; with biases, 3E + E + 4E + E for the Linears and 2E for the LayerNorms.
        let biases = if s.bias { 11 } else { 0 };
        let block = embedding.checked_mul(embedding)?.checked_mul(12)?.checked_add(embedding.checked_mul(2 + biases)?)?;
        let ln_f = embedding.checked_mul(if s.bias { 2 } else { 1 })?;
        let positions = wide(s.block_size).checked_mul(embedding)?;
        return vocab.checked_mul(embedding)?.checked_add(positions)?.checked_add(block.checked_mul(wide(s.layers))?)?.checked_add(ln_f);
    }
    let gate_width = hidden.checked_mul(wide(s.cell.gates()))?;
    // Each layer: W_ih [input, gates*H], W_hh [H, gates*H], two biases [1, gates*H].
    let layer = |input: u64| input.checked_add(hidden)?.checked_add(2)?.checked_mul(gate_width);
    let later_layers = layer(hidden)?.checked_mul(wide(s.layers.saturating_sub(1)))?;
    let recurrent = if s.layers == 0 { 0 } else { layer(embedding)?.checked_add(later_layers)? };
    let output = if s.tied { hidden.checked_mul(embedding)? } else { hidden.checked_mul(vocab)? };
    vocab.checked_mul(embedding)?.checked_add(recurrent)?.checked_add(output)?.checked_add(vocab)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelShape;

    /// The page's cleaning keeps poems of up to 80 characters: 81 positions with BOS.
    const PAGE_LONGEST: usize = 81;

    fn small_model() -> PoemModelConfig {
        PoemModelConfig::new(5000, ModelShape::new().with_hidden(32).with_embedding(16))
    }

    #[test]
    fn a_batch_whose_positions_pass_2_to_the_32_is_too_big() {
        // 53,024,288 × 81 = 2^32 + 32. On wasm32 the old `usize` product wrapped to 32
        // positions, so this request estimated a few MiB and passed the 3 GiB check. Natively
        // usize is 64 bits, so this case checks the figure itself; the next test shows the
        // same wrap at 64 bits, where it fails natively on the old arithmetic.
        let train = TrainConfig::new().with_batch_size(53_024_288);
        let bytes = training_bytes(&small_model(), &train, PAGE_LONGEST);
        assert!(bytes > WASM_BUDGET_BYTES, "{bytes} bytes");
        // At least the [B*T, V] logits: (2^32 + 32) positions × 5000 tokens × 4 bytes.
        assert!(bytes >= ((1u64 << 32) + 32) * 5000 * 4, "{bytes} bytes");
    }

    #[test]
    fn a_product_past_u64_saturates_instead_of_wrapping() {
        // The smallest batch whose positions pass 2^64: unchecked, the product wraps to a
        // handful of positions (as 2^32 + 32 did on wasm32) and the estimate looks small.
        let batch = (u64::MAX / PAGE_LONGEST as u64 + 1) as usize;
        assert!((batch as u64).checked_mul(PAGE_LONGEST as u64).is_none());
        let train = TrainConfig::new().with_batch_size(batch);
        assert_eq!(training_bytes(&small_model(), &train, PAGE_LONGEST), u64::MAX);
        let absurd = PoemModelConfig::new(5000, ModelShape::new().with_layers(usize::MAX));
        assert_eq!(training_bytes(&absurd, &TrainConfig::new(), PAGE_LONGEST), u64::MAX);
    }

    #[test]
    fn a_tensor_past_wasm32s_largest_allocation_is_too_big_under_the_budget() {
        // 110,000 positions × 5,000 characters × 4 bytes = 2.2 GB of logits: under 3 GiB in
        // all, but past the 2 GiB a single wasm32 allocation may have.
        let model = small_model();
        let train = TrainConfig::new().with_batch_size(110_000 / PAGE_LONGEST + 1);
        assert!(training_bytes(&model, &train, PAGE_LONGEST) > WASM_BUDGET_BYTES);
        let batch = largest_fitting_batch(&model, &train, PAGE_LONGEST, WASM_BUDGET_BYTES).unwrap();
        assert!((batch * PAGE_LONGEST * 5000 * 4) as u64 <= MAX_WASM_ALLOCATION, "batch {batch}");
        assert!(((batch + 1) * PAGE_LONGEST * 5000 * 4) as u64 > MAX_WASM_ALLOCATION, "batch {batch} is the largest");
    }

    #[test]
    fn the_parameter_count_matches_the_model() {
        for cell in Cell::ALL {
            for (layers, tied) in [(1, false), (3, false), (2, true)] {
                // The Transformer's biases off on one of them; its blocks' width is 24 in 4 heads.
                let bias = !(cell == Cell::Transformer && tied);
                let shape = ModelShape::new().with_cell(cell).with_layers(layers).with_tied(tied).with_embedding(24).with_hidden(40).with_bias(bias);
                let model = PoemModelConfig::new(321, shape);
                assert_eq!(param_count(&model), Some(model.num_params() as u64), "{cell:?} {layers} layers, tied {tied}");
            }
        }
    }

    #[test]
    fn the_largest_fitting_batch_is_the_last_one_under_the_budget() {
        let model = small_model();
        let train = TrainConfig::new().with_batch_size(4096);
        let budget = training_bytes(&model, &train.clone().with_batch_size(1000), PAGE_LONGEST);
        // Batch 1000's own estimate is the budget: 1000 fits and 1001 does not.
        assert_eq!(largest_fitting_batch(&model, &train, PAGE_LONGEST, budget), Some(1000));
        assert_eq!(largest_fitting_batch(&model, &train, PAGE_LONGEST, budget - 1), Some(999));
        // A batch that already fits is kept, never raised.
        assert_eq!(largest_fitting_batch(&model, &train.clone().with_batch_size(7), PAGE_LONGEST, budget), Some(7));
        // Not even one poem fits: the weights alone are over the budget.
        let weights_only = PARAM_BYTES * model.num_params() as u64;
        assert_eq!(largest_fitting_batch(&model, &train, PAGE_LONGEST, weights_only), None);
        assert_eq!(largest_fitting_batch(&model, &train.with_batch_size(0), PAGE_LONGEST, u64::MAX), None);
    }

    #[test]
    fn the_page_default_model_fits_and_gib_reads_like_the_page() {
        let model = PoemModelConfig::new(5000, ModelShape::new());
        assert!(fits(&model, &TrainConfig::new(), PAGE_LONGEST, WASM_BUDGET_BYTES));
        assert_eq!(gib(WASM_BUDGET_BYTES), "3.0");
        assert_eq!(gib(3 * (1 << 30) + (1 << 29)), "3.5");
    }
}
