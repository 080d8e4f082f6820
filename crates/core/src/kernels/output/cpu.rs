//! The output layer's forward and backward on the CPU: its three matmuls straight into host
//! buffers (`matmul::matmul`, no tensor copies of the `[B*T, V]` logits, which are the
//! step's largest), and the softmax cross-entropy and its gradient fused into passes over each
//! row, split across cores. As tensor ops (`output_layer_grads`, the reference in `mod.rs`) the
//! bias, max, shift, exp, sum, scale and scatter each pass over the logits once,
//! on one core.

use std::sync::Mutex;

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::OutputLayerGrads;
use crate::kernels::matmul::{Layout::*, matmul};
use crate::kernels::simd::{exp_nonpositive as exp, widest_simd};
use crate::readback::{ReadError, read_values};

/// Rows handled together by one task (keeps the per-task column sums few).
const ROWS_PER_TASK: usize = 64;

/// The logits' buffer, kept between steps: a fresh 50 MB allocation each step costs page
/// faults and zeroing.
static LOGITS: Mutex<Vec<f32>> = Mutex::new(Vec::new());

/// `h · W` `[N, V]` in the kept logits buffer (give it back to `LOGITS` when done).
fn logits_of(h: &[f32], w: &[f32], (n, k, v): (usize, usize, usize)) -> Vec<f32> {
    let mut logits = std::mem::take(&mut *LOGITS.lock().unwrap_or_else(|e| e.into_inner()));
    logits.resize(n * v, 0.0);
    matmul(&mut logits, false, h, Plain, w, Plain, (n, k, v));
    logits
}

/// `output_layer_grads` for the CPU: the same loss and gradients.
///
/// - `hidden`: `[N, K]`, `weight`: `[K, V]`, `bias`: `[1, V]`
/// - `targets[i]` and `position_weights[i]` for each of the N positions (weight 0: padding)
pub async fn output_layer_grads(
    hidden: Tensor<2>,
    weight: Tensor<2>,
    bias: Tensor<2>,
    targets: &[i32],
    position_weights: &[f32],
) -> Result<OutputLayerGrads, ReadError> {
    let device = hidden.device();
    let (n, k, v) = (hidden.dims()[0], hidden.dims()[1], weight.dims()[1]);
    let (h, w, bias) = (read_values(hidden).await?, read_values(weight).await?, read_values(bias).await?);
    let mut logits = logits_of(&h, &w, (n, k, v)); // [N, V]
    let (loss, d_bias) = logits
        .par_chunks_mut(v * ROWS_PER_TASK)
        .enumerate()
        .map(|(task, rows)| {
            let mut column_sums = vec![0.0f32; v];
            let mut loss = 0.0f64;
            for (i, row) in rows.chunks_mut(v).enumerate() {
                let r = task * ROWS_PER_TASK + i;
                loss += softmax_gradient_row(row, &bias, targets[r] as usize, position_weights[r], &mut column_sums);
            }
            (loss, column_sums)
        })
        .reduce(
            || (0.0, vec![0.0; v]),
            |(la, mut ca), (lb, cb)| {
                ca.iter_mut().zip(&cb).for_each(|(a, b)| *a += b);
                (la + lb, ca)
            },
        );
    let d_logits = &logits; // [N, V], the rows turned into their gradients in place
    let mut d_hidden = vec![0.0f32; n * k];
    matmul(&mut d_hidden, false, d_logits, Plain, &w, Transposed, (n, v, k)); // [N, K] = d_logits · Wᵀ
    let mut d_weight = vec![0.0f32; k * v];
    matmul(&mut d_weight, false, &h, Transposed, d_logits, Plain, (k, n, v)); // [K, V] = hᵀ · d_logits
    *LOGITS.lock().unwrap_or_else(|e| e.into_inner()) = logits;
    let tensor = |values: Vec<f32>, shape: [usize; 2]| Tensor::<2>::from_data(TensorData::new(values, shape), &device);
    Ok(OutputLayerGrads {
        loss: Tensor::from_data(TensorData::new(vec![loss as f32], [1]), &device),
        d_hidden: tensor(d_hidden, [n, k]),
        d_weight: tensor(d_weight, [k, v]),
        d_bias: tensor(d_bias, [1, v]),
    })
}

/// The output layer's summed negative log-likelihood over the positions with a nonzero mask
/// (evaluation: no gradients), on every core: `summed_nll` in `mod.rs` is its reference.
pub async fn summed_nll(hidden: Tensor<2>, weight: Tensor<2>, bias: Tensor<2>, targets: &[i32], mask: &[f32]) -> Result<f64, ReadError> {
    let (n, k, v) = (hidden.dims()[0], hidden.dims()[1], weight.dims()[1]);
    let (h, w, bias) = (read_values(hidden).await?, read_values(weight).await?, read_values(bias).await?);
    let mut logits = logits_of(&h, &w, (n, k, v)); // [N, V]
    let total = logits
        .par_chunks_mut(v)
        .enumerate()
        .filter(|(r, _)| mask[*r] != 0.0)
        .map(|(r, row)| nll_row(row, &bias, targets[r] as usize) * mask[r] as f64)
        .sum();
    *LOGITS.lock().unwrap_or_else(|e| e.into_inner()) = logits;
    Ok(total)
}

widest_simd! {
    /// Turns one row of logits into its gradient in place, `(softmax - one_hot) * weight`, adds
    /// it to `column_sums` (the bias gradient) and returns the row's weighted loss.
    fn softmax_gradient_row(row: &mut [f32], bias: &[f32], target: usize, weight: f32, column_sums: &mut [f32]) -> f64 => row_portable
}

/// Lanes of the partial sums and maxima, so the reductions vectorise.
const LANES: usize = 16;

#[inline(always)]
fn row_portable(row: &mut [f32], bias: &[f32], target: usize, weight: f32, column_sums: &mut [f32]) -> f64 {
    if weight == 0.0 {
        row.fill(0.0); // padding: no loss, no gradient
        return 0.0;
    }
    let logit = row[target] + bias[target];
    let (max, sum) = exponentiate(row, bias);
    let scale = weight / sum;
    for (x, c) in row.iter_mut().zip(column_sums.iter_mut()) {
        *x *= scale;
        *c += *x;
    }
    row[target] -= weight;
    column_sums[target] -= weight;
    (weight as f64) * ((sum as f64).ln() - (logit - max) as f64)
}

widest_simd! {
    /// One row's negative log-likelihood of its target, `logsumexp(row + bias) - (row + bias)[target]`
    /// (the row is overwritten).
    fn nll_row(row: &mut [f32], bias: &[f32], target: usize) -> f64 => nll_row_portable
}

#[inline(always)]
fn nll_row_portable(row: &mut [f32], bias: &[f32], target: usize) -> f64 {
    let logit = row[target] + bias[target];
    let (max, sum) = exponentiate(row, bias);
    (sum as f64).ln() - (logit - max) as f64
}

/// Turns a row of logits into `exp(row + bias - max)` in place and returns `(max, sum)`: the
/// softmax's numerators and denominator, shifted by the row's largest logit.
#[inline(always)]
fn exponentiate(row: &mut [f32], bias: &[f32]) -> (f32, f32) {
    // Whole chunks of LANES as arrays (fixed trip counts, so the loops vectorise), then the tail.
    let bias = &bias[..row.len()];
    let mut maxima = [f32::NEG_INFINITY; LANES];
    let (chunks, tail) = row.as_chunks_mut::<LANES>();
    let (bias_chunks, bias_tail) = bias.as_chunks::<LANES>();
    for (xs, bs) in chunks.iter_mut().zip(bias_chunks) {
        for i in 0..LANES {
            xs[i] += bs[i];
            maxima[i] = if xs[i] > maxima[i] { xs[i] } else { maxima[i] };
        }
    }
    for (i, (x, b)) in tail.iter_mut().zip(bias_tail).enumerate() {
        *x += b;
        maxima[i] = if *x > maxima[i] { *x } else { maxima[i] };
    }
    let max = maxima.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut sums = [0.0f32; LANES];
    let (chunks, tail) = row.as_chunks_mut::<LANES>();
    for xs in chunks.iter_mut() {
        for i in 0..LANES {
            xs[i] = exp(xs[i] - max);
            sums[i] += xs[i];
        }
    }
    for (i, x) in tail.iter_mut().enumerate() {
        *x = exp(*x - max);
        sums[i] += *x;
    }
    (max, sums.iter().sum())
}
