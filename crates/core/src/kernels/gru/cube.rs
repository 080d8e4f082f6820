//! The GRU layer's CubeCL kernels (wgpu, so WebGPU in the browser). On a GPU a training step is
//! bound by dispatches, not FLOPs: forward and backward each run all T steps of a layer in one
//! dispatch. Each workgroup owns one batch row and keeps h in workgroup memory; batch rows are
//! independent, so no grid-wide sync is needed (WebGPU has none). W_hh is read from storage.

use burn::backend::{TensorMetadata, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use cubecl::prelude::{CubeCount, CubeDim};

use kernels::{gru_backward, gru_forward};

/// The kernels (their own module: CubeCL's prelude has its own `Tensor`).
mod kernels {
    use cubecl::prelude::*;

    #[cube]
    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    /// WGSL's `tanh` may return NaN for large |x|; tanh(±15) is ±1 in f32 anyway.
    #[cube]
    fn tanh_clamped(x: f32) -> f32 {
        x.clamp(-15.0, 15.0).tanh()
    }

    /// Forward: one workgroup per batch row, its units striding over the hidden units.
    /// `hs[t + 1]` = GRU(`gi[t]`, `hs[t]`) for t in 0..T, with h double-buffered in workgroup
    /// memory (one barrier per step). `cache[t]` keeps r, z, n and W_hn·h + b_hn for the backward.
    #[cube(launch)]
    pub fn gru_forward(
        gi: &Tensor<f32>,        // [T, B, 3H]
        w_hh: &Tensor<f32>,      // [H, 3H]
        b_hh: &Tensor<f32>,      // [3H]
        h0: &Tensor<f32>,        // [B, H]
        hs: &mut Tensor<f32>,    // [T + 1, B, H]
        cache: &mut Tensor<f32>, // [T, B, 4H]
        #[comptime] hidden: usize,
    ) {
        let b = CUBE_POS_X as usize;
        let batch = h0.shape(0);
        let steps = gi.shape(0);
        let stride = CUBE_DIM_X as usize;
        let g3 = 3 * hidden;
        let mut h = Shared::<[f32]>::new_slice(2 * hidden);
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            let v = h0[b * hidden + j];
            h[j] = v;
            hs[b * hidden + j] = v;
            j += stride;
        }
        sync_cube();
        let mut cur = 0usize;
        for t in 0..steps {
            let next = hidden - cur;
            let x_row = (t * batch + b) * g3;
            let c_row = (t * batch + b) * 4 * hidden;
            let mut j = UNIT_POS_X as usize;
            while j < hidden {
                let mut ar = b_hh[j];
                let mut az = b_hh[hidden + j];
                let mut an = b_hh[2 * hidden + j];
                for k in 0..hidden {
                    let hk = h[cur + k];
                    let w = k * g3;
                    ar += w_hh[w + j] * hk;
                    az += w_hh[w + hidden + j] * hk;
                    an += w_hh[w + 2 * hidden + j] * hk;
                }
                let r = sigmoid(gi[x_row + j] + ar);
                let z = sigmoid(gi[x_row + hidden + j] + az);
                let n = tanh_clamped(gi[x_row + 2 * hidden + j] + r * an);
                let h_new = n + z * (h[cur + j] - n);
                h[next + j] = h_new;
                hs[((t + 1) * batch + b) * hidden + j] = h_new;
                cache[c_row + j] = r;
                cache[c_row + hidden + j] = z;
                cache[c_row + 2 * hidden + j] = n;
                cache[c_row + 3 * hidden + j] = an;
                j += stride;
            }
            sync_cube();
            cur = next;
        }
    }

    /// Backward, in reverse time: carries ∂L/∂h_t in workgroup memory and writes, per step, the
    /// pre-activation gradients `d4[t]` = (dr, dz, dn on the input side, dn·r on the hidden
    /// side), and at the end ∂L/∂h0.
    #[cube(launch)]
    pub fn gru_backward(
        d_hs: &Tensor<f32>,   // [T + 1, B, H], the gradient of `hs`
        w_hh: &Tensor<f32>,   // [H, 3H]
        hs: &Tensor<f32>,     // [T + 1, B, H]
        cache: &Tensor<f32>,  // [T, B, 4H]
        d4: &mut Tensor<f32>, // [T, B, 4H]
        d_h0: &mut Tensor<f32>, // [B, H]
        #[comptime] hidden: usize,
    ) {
        let b = CUBE_POS_X as usize;
        let batch = d_h0.shape(0);
        let steps = cache.shape(0);
        let stride = CUBE_DIM_X as usize;
        let g3 = 3 * hidden;
        // carry (2H, double-buffered): ∂L/∂h from later steps; dg (3H): this step's hidden-side gradients.
        let mut carry = Shared::<[f32]>::new_slice(2 * hidden);
        let mut dg = Shared::<[f32]>::new_slice(3 * hidden);
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            carry[j] = 0.0;
            j += stride;
        }
        sync_cube();
        let mut cur = 0usize;
        for step in 0..steps {
            let t = steps - 1 - step;
            let next = hidden - cur;
            let c_row = (t * batch + b) * 4 * hidden;
            let mut j = UNIT_POS_X as usize;
            while j < hidden {
                let dh = d_hs[((t + 1) * batch + b) * hidden + j] + carry[cur + j];
                let r = cache[c_row + j];
                let z = cache[c_row + hidden + j];
                let n = cache[c_row + 2 * hidden + j];
                let an = cache[c_row + 3 * hidden + j];
                let h_prev = hs[(t * batch + b) * hidden + j];
                let dn = dh * (1.0 - z);
                let dn_pre = dn * (1.0 - n * n);
                let dr_pre = dn_pre * an * r * (1.0 - r);
                let dz_pre = dh * (h_prev - n) * z * (1.0 - z);
                d4[c_row + j] = dr_pre;
                d4[c_row + hidden + j] = dz_pre;
                d4[c_row + 2 * hidden + j] = dn_pre;
                d4[c_row + 3 * hidden + j] = dn_pre * r;
                dg[j] = dr_pre;
                dg[hidden + j] = dz_pre;
                dg[2 * hidden + j] = dn_pre * r;
                j += stride;
            }
            sync_cube();
            // ∂L/∂h_{t-1}[k] = dh[k]·z[k] + Σ_i W_hh[k, i]·dg[i]
            let mut k = UNIT_POS_X as usize;
            while k < hidden {
                let dh = d_hs[((t + 1) * batch + b) * hidden + k] + carry[cur + k];
                let mut acc = dh * cache[c_row + hidden + k];
                let w = k * g3;
                for i in 0..g3 {
                    acc += w_hh[w + i] * dg[i];
                }
                carry[next + k] = acc;
                k += stride;
            }
            sync_cube();
            cur = next;
        }
        let mut j = UNIT_POS_X as usize;
        while j < hidden {
            d_h0[b * hidden + j] = carry[cur + j] + d_hs[b * hidden + j];
            j += stride;
        }
    }
}

fn dims<const D: usize>(t: &FloatTensor<CubeBackend>) -> [usize; D] {
    t.shape().dims::<D>()
}

/// Both kernels' launch shape: a workgroup per batch row.
fn launch_shape(batch: usize, hidden: usize) -> (CubeCount, CubeDim) {
    (CubeCount::Static(batch as u32, 1, 1), CubeDim::new_1d((hidden as u32).clamp(1, crate::kernels::UNITS as u32)))
}

/// Runs the forward kernel: `(hs [T + 1, B, H], cache [T, B, 4H])`.
fn forward(gi: FloatTensor<CubeBackend>, w_hh: FloatTensor<CubeBackend>, b_hh: FloatTensor<CubeBackend>, h0: FloatTensor<CubeBackend>) -> (FloatTensor<CubeBackend>, FloatTensor<CubeBackend>) {
    let (gi, w_hh, b_hh, h0) = (into_contiguous(gi), into_contiguous(w_hh), into_contiguous(b_hh), into_contiguous(h0));
    assert_eq!(gi.dtype, DType::F32, "the GRU kernel is f32");
    let [steps, batch, _] = dims::<3>(&gi);
    let hidden = dims::<2>(&h0)[1];
    let (client, device) = (gi.client.clone(), gi.device.clone());
    let hs = empty_device_contiguous_dtype(client.clone(), device.clone(), Shape::new([steps + 1, batch, hidden]), DType::F32);
    let cache = empty_device_contiguous_dtype(client.clone(), device, Shape::new([steps, batch, 4 * hidden]), DType::F32);
    let (count, dim) = launch_shape(batch, hidden);
    gru_forward::launch(
        &client,
        count,
        dim,
        gi.into_tensor_arg(),
        w_hh.into_tensor_arg(),
        b_hh.into_tensor_arg(),
        h0.into_tensor_arg(),
        hs.clone().into_tensor_arg(),
        cache.clone().into_tensor_arg(),
        hidden,
    );
    (hs, cache)
}

/// Runs the backward kernel: `(d4 [T, B, 4H], d_h0 [B, H])`.
fn backward(d_hs: FloatTensor<CubeBackend>, w_hh: FloatTensor<CubeBackend>, hs: FloatTensor<CubeBackend>, cache: FloatTensor<CubeBackend>) -> (FloatTensor<CubeBackend>, FloatTensor<CubeBackend>) {
    let (d_hs, w_hh) = (into_contiguous(d_hs), into_contiguous(w_hh));
    let [steps, batch, four_h] = dims::<3>(&cache);
    let hidden = four_h / 4;
    let (client, device) = (cache.client.clone(), cache.device.clone());
    let d4 = empty_device_contiguous_dtype(client.clone(), device.clone(), Shape::new([steps, batch, four_h]), DType::F32);
    let d_h0 = empty_device_contiguous_dtype(client.clone(), device, Shape::new([batch, hidden]), DType::F32);
    let (count, dim) = launch_shape(batch, hidden);
    gru_backward::launch(
        &client,
        count,
        dim,
        d_hs.into_tensor_arg(),
        w_hh.into_tensor_arg(),
        hs.into_tensor_arg(),
        cache.into_tensor_arg(),
        d4.clone().into_tensor_arg(),
        d_h0.clone().into_tensor_arg(),
        hidden,
    );
    (d4, d_h0)
}

impl super::ops::GruKernels for CubeBackend {
    fn gru_forward(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        forward(gi, w_hh, b_hh, h0)
    }

    fn gru_backward(d_hs: FloatTensor<Self>, w_hh: FloatTensor<Self>, hs: FloatTensor<Self>, cache: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        backward(d_hs, w_hh, hs, cache)
    }
}
