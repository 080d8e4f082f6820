//! GELU and causal attention on the CPU (flex): each one pass over host slices forward and one
//! backward, split across cores (burn's CPU element-wise ops run on one), with erf and e^x
//! written so the compiler vectorises them (`simd`), and the attention's small matmuls through
//! `matmul` on each task's own head (no `[B, H, T, T]` tensor made per op).

use std::borrow::Cow;

use burn::backend::{Flex, TensorMetadata, tensor::FloatTensor};
use burn::tensor::TensorData;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::kernels::matmul::{Layout::*, matmul_on_this_thread};
use crate::kernels::simd::{exp_nonpositive, widest_simd};

/// Elements a GELU task handles: large enough to amortise waking a thread.
const GELU_CHUNK: usize = 1 << 14;

/// A tensor's values, read in place when it is contiguous.
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(t.clone().into_data().try_into_vec::<f32>().expect("f32 tensors")),
    }
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// erf by Abramowitz and Stegun 7.1.26 with e^x that vectorises: absolute error below 1.5e-7 in
/// exact arithmetic, 5.3e-7 in f32 (libm's `erff` is a call per element, several times slower
/// than this whole pass; PyTorch's vectorised CPU erf is the same formula).
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let r = 1.0 - poly * exp_nonpositive(-a * a);
    if x >= 0.0 { r } else { -r }
}

#[inline(always)]
fn gelu_portable(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// d/dx x·Φ(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
#[inline(always)]
fn gelu_grad_portable(x: &[f32], d_y: &[f32], d_x: &mut [f32]) {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    for ((d_x, &x), &g) in d_x.iter_mut().zip(x).zip(d_y) {
        let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
        *d_x = g * (cdf + x * INV_SQRT_2PI * exp_nonpositive(-0.5 * x * x));
    }
}

widest_simd! {
    fn gelu_chunk(x: &[f32], y: &mut [f32]) => gelu_portable
}
widest_simd! {
    fn gelu_grad_chunk(x: &[f32], d_y: &[f32], d_x: &mut [f32]) => gelu_grad_portable
}

/// One row of attention weights in place: the scores of keys 0..=i scaled, their softmax, the
/// later keys 0.
#[inline(always)]
fn softmax_row_portable(row: &mut [f32], i: usize, scale: f32) {
    let (seen, future) = row.split_at_mut(i + 1);
    let max = seen.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s)) * scale;
    let mut sum = 0.0f32;
    for s in seen.iter_mut() {
        *s = exp_nonpositive(*s * scale - max);
        sum += *s;
    }
    let inv = 1.0 / sum;
    seen.iter_mut().for_each(|s| *s *= inv);
    future.fill(0.0);
}

/// dS = P ⊙ (dP − Σⱼ Pᵢⱼ dPᵢⱼ) · scale, in place of dP (P is 0 after the diagonal, so dS is).
#[inline(always)]
fn softmax_grad_row_portable(p: &[f32], d_p: &mut [f32], scale: f32) {
    let dot: f32 = p.iter().zip(d_p.iter()).map(|(p, d)| p * d).sum();
    for (d, &p) in d_p.iter_mut().zip(p) {
        *d = p * (*d - dot) * scale;
    }
}

widest_simd! {
    fn softmax_row(row: &mut [f32], i: usize, scale: f32) => softmax_row_portable
}
widest_simd! {
    fn softmax_grad_row(p: &[f32], d_p: &mut [f32], scale: f32) => softmax_grad_row_portable
}

/// Head `h`'s `[T, d]` block of a `[T, width]` row-major batch, copied out (d is small).
fn gather(rows: &[f32], width: usize, first: usize, d: usize, out: &mut [f32]) {
    for (out, row) in out.chunks_exact_mut(d).zip(rows.chunks_exact(width)) {
        out.copy_from_slice(&row[first..first + d]);
    }
}

fn scatter(block: &[f32], d: usize, rows: &mut [f32], width: usize, first: usize) {
    for (block, row) in block.chunks_exact(d).zip(rows.chunks_exact_mut(width)) {
        row[first..first + d].copy_from_slice(block);
    }
}

impl super::ops::TransformerKernels for Flex {
    fn erf_gelu_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape().to_vec();
        let x = values(&x);
        let mut y = vec![0.0f32; x.len()];
        y.par_chunks_mut(GELU_CHUNK).zip(x.par_chunks(GELU_CHUNK)).for_each(|(y, x)| gelu_chunk(x, y));
        tensor(y, shape)
    }

    fn erf_gelu_backward(x: FloatTensor<Self>, d_y: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape().to_vec();
        let (x, d_y) = (values(&x), values(&d_y));
        let mut d_x = vec![0.0f32; x.len()];
        d_x.par_chunks_mut(GELU_CHUNK)
            .zip(x.par_chunks(GELU_CHUNK).zip(d_y.par_chunks(GELU_CHUNK)))
            .for_each(|(d_x, (x, d_y))| gelu_grad_chunk(x, d_y, d_x));
        tensor(d_x, shape)
    }

    fn attention_forward(qkv: FloatTensor<Self>, heads: usize) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [b, t, e3] = qkv.shape().dims::<3>();
        let (e, d) = (e3 / 3, e3 / 3 / heads);
        let scale = 1.0 / (d as f32).sqrt();
        let qkv = values(&qkv);
        let (mut y, mut weights) = (vec![0.0f32; b * t * e], vec![0.0f32; b * heads * t * t]);
        // A task per poem of the batch: its rows of y and its heads' weights are its own.
        y.par_chunks_mut(t * e).zip(weights.par_chunks_mut(heads * t * t)).enumerate().for_each(|(poem, (y, weights))| {
            let rows = &qkv[poem * t * e3..(poem + 1) * t * e3];
            let (mut q, mut k, mut v, mut o) = (vec![0.0f32; t * d], vec![0.0f32; t * d], vec![0.0f32; t * d], vec![0.0f32; t * d]);
            for (h, p) in weights.chunks_exact_mut(t * t).enumerate() {
                gather(rows, e3, h * d, d, &mut q);
                gather(rows, e3, e + h * d, d, &mut k);
                gather(rows, e3, 2 * e + h * d, d, &mut v);
                matmul_on_this_thread(p, false, &q, Plain, &k, Transposed, (t, d, t)); // QKᵀ [T, T]
                for (i, row) in p.chunks_exact_mut(t).enumerate() {
                    softmax_row(row, i, scale);
                }
                matmul_on_this_thread(&mut o, false, p, Plain, &v, Plain, (t, t, d)); // PV [T, d]
                scatter(&o, d, y, e, h * d);
            }
        });
        (tensor(y, vec![b, t, e]), tensor(weights, vec![b, heads, t, t]))
    }

    fn attention_backward(d_y: FloatTensor<Self>, qkv: FloatTensor<Self>, weights: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        let [b, t, e3] = qkv.shape().dims::<3>();
        let (e, d) = (e3 / 3, e3 / 3 / heads);
        let scale = 1.0 / (d as f32).sqrt();
        let (qkv, weights, d_y) = (values(&qkv), values(&weights), values(&d_y));
        let mut d_qkv = vec![0.0f32; b * t * e3];
        d_qkv.par_chunks_mut(t * e3).enumerate().for_each(|(poem, d_rows)| {
            let rows = &qkv[poem * t * e3..(poem + 1) * t * e3];
            let d_y = &d_y[poem * t * e..(poem + 1) * t * e];
            let block = || vec![0.0f32; t * d];
            let (mut q, mut k, mut v, mut d_o) = (block(), block(), block(), block());
            let (mut d_q, mut d_k, mut d_v, mut d_s) = (block(), block(), block(), vec![0.0f32; t * t]);
            for h in 0..heads {
                let p = &weights[(poem * heads + h) * t * t..][..t * t];
                gather(rows, e3, h * d, d, &mut q);
                gather(rows, e3, e + h * d, d, &mut k);
                gather(rows, e3, 2 * e + h * d, d, &mut v);
                gather(d_y, e, h * d, d, &mut d_o);
                matmul_on_this_thread(&mut d_v, false, p, Transposed, &d_o, Plain, (t, t, d)); // Pᵀ dO
                matmul_on_this_thread(&mut d_s, false, &d_o, Plain, &v, Transposed, (t, d, t)); // dP = dO Vᵀ
                for (p, d_s) in p.chunks_exact(t).zip(d_s.chunks_exact_mut(t)) {
                    softmax_grad_row(p, d_s, scale);
                }
                matmul_on_this_thread(&mut d_q, false, &d_s, Plain, &k, Plain, (t, t, d)); // dS K
                matmul_on_this_thread(&mut d_k, false, &d_s, Transposed, &q, Plain, (t, t, d)); // dSᵀ Q
                scatter(&d_q, d, d_rows, e3, h * d);
                scatter(&d_k, d, d_rows, e3, e + h * d);
                scatter(&d_v, d, d_rows, e3, 2 * e + h * d);
            }
        });
        tensor(d_qkv, vec![b, t, e3])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn erf_is_as_good_as_libm() {
        let mut worst = 0.0f32;
        for i in -200_000..=200_000 {
            let x = i as f32 / 20_000.0; // -10 … 10
            worst = worst.max((super::erf(x) - libm_erf(x)).abs());
        }
        assert!(worst < 6e-7, "erf: worst absolute error {worst}");
    }

    /// erf in f64: its Taylor series near 0, a continued fraction for erfc in the tails.
    fn libm_erf(x: f32) -> f32 {
        let x = x as f64;
        let erf = if x.abs() < 2.5 {
            let (mut term, mut sum, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            let z = x.abs();
            let mut f = z;
            for k in (1..60).rev() {
                f = z + (k as f64 / 2.0) / f;
            }
            x.signum() * (1.0 - (-z * z).exp() / (f * std::f64::consts::PI.sqrt()))
        };
        erf as f32
    }
}
