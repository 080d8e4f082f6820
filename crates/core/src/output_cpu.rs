//! The output layer's softmax cross-entropy and its gradients on the CPU, fused into two passes
//! over the logits and split across cores by rows. The `[B*T, V]` logits are the step's
//! largest tensors; as tensor ops (`training::output_layer_grads`, this kernel's reference)
//! the bias, max, shift, exp, sum, scale and scatter each pass over them once, on one core.

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use crate::training::{OutputLayerGrads, TrainError, read_values};

/// Rows handled together by one task (keeps the per-task column sums few).
const ROWS_PER_TASK: usize = 64;

/// `output_layer_grads` for the CPU: the same loss and gradients.
///
/// - `hidden`: `[N, H]`, `weight`: `[H, V]`, `bias`: `[1, V]`
/// - `targets[i]` and `position_weights[i]` for each of the N positions (weight 0: padding)
pub async fn output_layer_grads(
    hidden: Tensor<2>,
    weight: Tensor<2>,
    bias: Tensor<2>,
    targets: &[i32],
    position_weights: &[f32],
) -> Result<OutputLayerGrads, TrainError> {
    let device = hidden.device();
    let [n, _] = hidden.dims();
    let v = weight.dims()[1];
    // A fresh tensor, so reading it moves its buffer instead of copying it.
    let mut logits = read_values(hidden.clone().matmul(weight.clone())).await?; // [N, V]
    let bias = read_values(bias).await?;
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
    let d_logits = Tensor::<2>::from_data(TensorData::new(logits, [n, v]), &device); // [N, V]
    Ok(OutputLayerGrads {
        loss: Tensor::from_data(TensorData::new(vec![loss as f32], [1]), &device),
        d_hidden: d_logits.clone().matmul(weight.transpose()),
        d_weight: hidden.transpose().matmul(d_logits),
        d_bias: Tensor::from_data(TensorData::new(d_bias, [1, v]), &device),
    })
}

/// Turns one row of logits into its gradient in place, `(softmax - one_hot) * weight`, adds it
/// to `column_sums` (the bias gradient) and returns the row's weighted loss.
fn softmax_gradient_row(row: &mut [f32], bias: &[f32], target: usize, weight: f32, column_sums: &mut [f32]) -> f64 {
    if weight == 0.0 {
        row.fill(0.0); // padding: no loss, no gradient
        return 0.0;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { row_avx2(row, bias, target, weight, column_sums) };
    }
    row_portable(row, bias, target, weight, column_sums)
}

/// The row with AVX2 and FMA enabled, for machines that have them (checked at run time).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2(row: &mut [f32], bias: &[f32], target: usize, weight: f32, column_sums: &mut [f32]) -> f64 {
    row_portable(row, bias, target, weight, column_sums)
}

/// Lanes of the partial sums and maxima, so the reductions vectorise.
const LANES: usize = 16;

#[inline(always)]
fn row_portable(row: &mut [f32], bias: &[f32], target: usize, weight: f32, column_sums: &mut [f32]) -> f64 {
    let mut maxima = [f32::NEG_INFINITY; LANES];
    for (xs, bs) in row.chunks_mut(LANES).zip(bias.chunks(LANES)) {
        for (i, (x, b)) in xs.iter_mut().zip(bs).enumerate() {
            *x += b;
            maxima[i] = if *x > maxima[i] { *x } else { maxima[i] };
        }
    }
    let max = maxima.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let picked = row[target] - max;
    let mut sums = [0.0f32; LANES];
    for xs in row.chunks_mut(LANES) {
        for (i, x) in xs.iter_mut().enumerate() {
            *x = exp(*x - max);
            sums[i] += *x;
        }
    }
    let sum: f32 = sums.iter().sum();
    let scale = weight / sum;
    for (x, c) in row.iter_mut().zip(column_sums.iter_mut()) {
        *x *= scale;
        *c += *x;
    }
    row[target] -= weight;
    column_sums[target] -= weight;
    (weight as f64) * ((sum as f64).ln() - picked as f64)
}

/// e^x for x ≤ 0, written so the compiler vectorises it (libm's `expf` is a call per
/// element): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor polynomial to r⁶
/// (relative error below 2e-7), 2^n by building the float's exponent.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5·2²³ rounds to the nearest integer in f32 arithmetic (no `round` call).
    const ROUND: f32 = 12_582_912.0;
    // e^-87 is at the bottom of f32's normal range: below, 0 is exact enough (and NaN, from
    // -inf minus -inf at a lane's start, becomes -87 too: the lane's empty sum stays 0).
    let x = if x > -87.0 { x } else { -87.0 };
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    f32::from_bits(((n as i32 + 127) as u32) << 23) * p
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_vectorised_exp_is_as_good_as_libm() {
        let mut worst = 0.0f32;
        for i in 0..200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let (ours, libm) = (super::exp(x), x.exp());
            worst = worst.max((ours - libm).abs() / libm.max(f32::MIN_POSITIVE));
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(super::exp(0.0), 1.0);
        assert!(super::exp(-200.0) < 1e-37);
    }
}
