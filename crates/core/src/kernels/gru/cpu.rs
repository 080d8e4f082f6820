//! The layer on the CPU (flex): the GPU kernels' formulas as loops over host slices, with one
//! matmul (`matmul::matmul`) per time step and no tensor allocated per op (the tensor-op GRU
//! spends most of its time there), and the projections and weight gradients as matmuls over all
//! (t, b) rows that read their operands in place (in the browser, the packed kernel instead of
//! burn's `gemm`).

use std::borrow::Cow;
use std::ops::Range;

use burn::backend::{Flex, TensorMetadata, tensor::FloatTensor};
use burn::tensor::TensorData;
use burn_flex::FlexTensor;

use super::ops::LayerGradients;
use crate::kernels::matmul::{Layout::*, matmul, matmul_on_this_thread};
use crate::kernels::simd::{sigmoid, tanh, widest_simd};

/// A tensor's values, read in place when it is contiguous (weights and saved states are
/// shared, and taking them out would copy them).
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(t.clone().into_data().try_into_vec::<f32>().expect("f32 tensors")),
    }
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Runs `work` on disjoint ranges of batch rows, one per thread. Each batch row's recurrence
/// is independent of the others', so a thread runs all T steps of its rows with no
/// synchronisation between steps (a split per step would wake the pool 128 times a step).
fn over_batch_rows(batch: usize, work: impl Fn(Range<usize>) + Sync) {
    let parts = rayon::current_num_threads().clamp(1, batch.max(1));
    if parts == 1 {
        return work(0..batch);
    }
    let size = batch.div_ceil(parts);
    let work = &work;
    rayon::scope(|scope| {
        for start in (0..batch).step_by(size) {
            scope.spawn(move |_| work(start..(start + size).min(batch)));
        }
    });
}

/// A buffer that [`over_batch_rows`]' tasks write in disjoint parts: their own batch rows.
#[derive(Clone, Copy)]
struct Disjoint(*mut f32, usize);

// SAFETY: tasks only ever reach disjoint parts of the buffer (see `rows`).
unsafe impl Send for Disjoint {}
unsafe impl Sync for Disjoint {}

impl Disjoint {
    fn new(buffer: &mut [f32]) -> Self {
        Disjoint(buffer.as_mut_ptr(), buffer.len())
    }

    /// Rows `rows` (each `width` floats) of the matrix that starts at `offset`.
    ///
    /// SAFETY: no other task reaches these floats while the slice lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn rows(&self, offset: usize, width: usize, rows: &Range<usize>) -> &mut [f32] {
        let (start, len) = (offset + rows.start * width, rows.len() * width);
        assert!(start + len <= self.1, "rows past the buffer");
        // SAFETY: inside the buffer (asserted); exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

widest_simd! {
    /// One batch row's gates at one time step: from its input projection `x` and recurrent
    /// projection `gh` (both `[3H]`, r | z | n) and the previous state, the next state and the
    /// cache `[4H]` (r | z | n | W_hn·h + b_hn) the backward pass reads.
    fn gates(x: &[f32], gh: &[f32], b: &[f32], h_prev: &[f32], h_next: &mut [f32], cache: &mut [f32]) => gates_portable
}

#[inline(always)]
fn gates_portable(x: &[f32], gh: &[f32], b: &[f32], h_prev: &[f32], h_next: &mut [f32], cache: &mut [f32]) {
    let hidden = h_prev.len();
    let (cr, rest) = cache.split_at_mut(hidden);
    let (cz, rest) = rest.split_at_mut(hidden);
    let (cn, can) = rest.split_at_mut(hidden);
    for j in 0..hidden {
        let r = sigmoid(x[j] + gh[j] + b[j]);
        let z = sigmoid(x[hidden + j] + gh[hidden + j] + b[hidden + j]);
        let an = gh[2 * hidden + j] + b[2 * hidden + j];
        let n = tanh(x[2 * hidden + j] + r * an);
        h_next[j] = n + z * (h_prev[j] - n);
        (cr[j], cz[j], cn[j], can[j]) = (r, z, n, an);
    }
}

impl super::ops::GruKernels for Flex {
    fn gru_forward(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [steps, batch, g3] = gi.shape().dims::<3>();
        let hidden = g3 / 3;
        let (gi, w, b, h0) = (values(&gi), values(&w_hh), values(&b_hh), values(&h0));
        let row = batch * hidden;
        let mut hs = vec![0.0f32; (steps + 1) * row];
        let mut cache = vec![0.0f32; steps * batch * 4 * hidden];
        hs[..row].copy_from_slice(&h0);
        let (hs_out, cache_out) = (Disjoint::new(&mut hs), Disjoint::new(&mut cache));
        over_batch_rows(batch, |rows| {
            let mut gh = vec![0.0f32; rows.len() * g3];
            for t in 0..steps {
                // SAFETY (this loop): only this task touches its rows of hs and of the cache.
                let (h, h_next) = unsafe { (hs_out.rows(t * row, hidden, &rows), hs_out.rows((t + 1) * row, hidden, &rows)) };
                matmul_on_this_thread(&mut gh, false, h, Plain, &w, Plain, (rows.len(), hidden, g3)); // [rows, 3H]
                let cache = unsafe { cache_out.rows(t * batch * 4 * hidden, 4 * hidden, &rows) };
                for (i, c) in cache.chunks_exact_mut(4 * hidden).enumerate() {
                    let x = &gi[(t * batch + rows.start + i) * g3..][..g3];
                    let own = i * hidden..(i + 1) * hidden;
                    gates(x, &gh[i * g3..][..g3], &b, &h[own.clone()], &mut h_next[own], c);
                }
            }
        });
        (tensor(hs, [steps + 1, batch, hidden]), tensor(cache, [steps, batch, 4 * hidden]))
    }

    fn gru_backward(d_hs: FloatTensor<Self>, w_hh: FloatTensor<Self>, hs: FloatTensor<Self>, cache: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [steps, batch, four_h] = cache.shape().dims::<3>();
        let (hidden, g3) = (four_h / 4, 3 * four_h / 4);
        let (d_hs, w, hs, cache) = (values(&d_hs), values(&w_hh), values(&hs), values(&cache));
        let row = batch * hidden;
        let mut d4 = vec![0.0f32; steps * batch * four_h];
        let mut d_h0 = vec![0.0f32; row];
        // W_hhᵀ once, row-major: each step's matmul then reads it in place (the browser's
        // packed kernel would otherwise gather it afresh at every step).
        let mut w_t = vec![0.0f32; g3 * hidden];
        for (i, w_row) in w.chunks_exact(g3).enumerate() {
            for (j, &x) in w_row.iter().enumerate() {
                w_t[j * hidden + i] = x;
            }
        }
        let (d4_out, d_h0_out) = (Disjoint::new(&mut d4), Disjoint::new(&mut d_h0));
        over_batch_rows(batch, |rows| {
            let own = rows.start * hidden..rows.end * hidden; // this task's part of a [B, H] row
            let mut dg = vec![0.0f32; rows.len() * g3];
            let mut carry = vec![0.0f32; own.len()]; // ∂L/∂h from later steps
            let mut dh = vec![0.0f32; own.len()];
            for t in (0..steps).rev() {
                for (i, d) in dh.iter_mut().enumerate() {
                    *d = d_hs[(t + 1) * row + own.start + i] + carry[i];
                }
                // SAFETY: only this task touches its rows of d4.
                let d4 = unsafe { d4_out.rows(t * batch * four_h, four_h, &rows) };
                for (i, d) in d4.chunks_exact_mut(four_h).enumerate() {
                    let c = &cache[(t * batch + rows.start + i) * four_h..][..four_h];
                    let g = &mut dg[i * g3..][..g3];
                    for j in 0..hidden {
                        let (r, z, n, an) = (c[j], c[hidden + j], c[2 * hidden + j], c[3 * hidden + j]);
                        let dh = dh[i * hidden + j];
                        let h_prev = hs[t * row + own.start + i * hidden + j];
                        let dn_pre = dh * (1.0 - z) * (1.0 - n * n);
                        let dr_pre = dn_pre * an * r * (1.0 - r);
                        let dz_pre = dh * (h_prev - n) * z * (1.0 - z);
                        (d[j], d[hidden + j], d[2 * hidden + j], d[3 * hidden + j]) = (dr_pre, dz_pre, dn_pre, dn_pre * r);
                        (g[j], g[hidden + j], g[2 * hidden + j]) = (dr_pre, dz_pre, dn_pre * r);
                        // ∂L/∂h_{t-1} = dh ⊙ z + dg @ W_hhᵀ (the matmul below)
                        carry[i * hidden + j] = dh * z;
                    }
                }
                matmul_on_this_thread(&mut carry, true, &dg, Plain, &w_t, Plain, (rows.len(), g3, hidden));
            }
            // SAFETY: only this task touches its rows of d_h0.
            let d_h0 = unsafe { d_h0_out.rows(0, hidden, &rows) };
            for (i, d) in d_h0.iter_mut().enumerate() {
                *d = carry[i] + d_hs[own.start + i];
            }
        });
        (tensor(d4, [steps, batch, four_h]), tensor(d_h0, [batch, hidden]))
    }

    fn gru_input_projection(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, b_ih: FloatTensor<Self>) -> FloatTensor<Self> {
        let [steps, batch, d_in] = x.shape().dims::<3>();
        let (x, w, b) = (values(&x), values(&w_ih), values(&b_ih));
        let (rows, g3) = (steps * batch, b.len());
        let mut gi: Vec<f32> = b.iter().copied().cycle().take(rows * g3).collect(); // b_ih in every row
        matmul(&mut gi, true, &x, Plain, &w, Plain, (rows, d_in, g3)); // [T*B, 3H] += x · W_ih
        tensor(gi, [steps, batch, g3])
    }

    fn gru_layer_gradients(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, hs: FloatTensor<Self>, d4: FloatTensor<Self>) -> LayerGradients<Self> {
        let [steps, batch, d_in] = x.shape().dims::<3>();
        let four_h = d4.shape().dims::<3>()[2];
        let (hidden, rows) = (four_h / 4, steps * batch);
        let (x, w_ih, hs, d4) = (values(&x), values(&w_ih), values(&hs), values(&d4));
        // d4's bands, read in place: (dr, dz, dn) is the input side, (dr, dz) and dn·r the hidden side.
        let band = |first| Band { row_stride: four_h, first };
        let mut d_x = vec![0.0f32; rows * d_in];
        matmul(&mut d_x, false, &d4, band(0), &w_ih, Transposed, (rows, 3 * hidden, d_in)); // [T*B, D] = d_gi · W_ihᵀ
        let mut d_w_ih = vec![0.0f32; d_in * 3 * hidden];
        matmul(&mut d_w_ih, false, &x, Transposed, &d4, band(0), (d_in, rows, 3 * hidden)); // [D, 3H] = xᵀ · d_gi
        // dW_hh = h_prevᵀ · d_gh, its (r, z) and n columns apart: [H, 2H] and [H, H]
        let h_prev = &hs[..rows * hidden];
        let mut rz = vec![0.0f32; hidden * 2 * hidden];
        matmul(&mut rz, false, h_prev, Transposed, &d4, band(0), (hidden, rows, 2 * hidden));
        let mut n = vec![0.0f32; hidden * hidden];
        matmul(&mut n, false, h_prev, Transposed, &d4, band(3 * hidden), (hidden, rows, hidden));
        let d_w_hh: Vec<f32> = rz.chunks_exact(2 * hidden).zip(n.chunks_exact(hidden)).flat_map(|(rz, n)| rz.iter().chain(n)).copied().collect();
        // Both biases' gradients are column sums of d4: 1ᵀ · d4, [1, 4H]
        let mut sums = vec![0.0f32; four_h];
        matmul(&mut sums, false, &vec![1.0f32; rows], Plain, &d4, Plain, (1, rows, four_h));
        let d_b_hh: Vec<f32> = sums[..2 * hidden].iter().chain(&sums[3 * hidden..]).copied().collect();
        sums.truncate(3 * hidden);
        LayerGradients {
            d_x: tensor(d_x, [steps, batch, d_in]),
            d_w_ih: tensor(d_w_ih, [d_in, 3 * hidden]),
            d_b_ih: tensor(sums, [1, 3 * hidden]),
            d_w_hh: tensor(d_w_hh, [hidden, 3 * hidden]),
            d_b_hh: tensor(d_b_hh, [1, 3 * hidden]),
        }
    }
}
