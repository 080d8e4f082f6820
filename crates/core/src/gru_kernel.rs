//! The GRU recurrence as one operation forward and one backward, instead of about ten tensor
//! ops per time step (`model::RecurrentLayer::forward_tensor_ops`, this module's reference).
//!
//! - On a GPU (CubeCL, so WebGPU in the browser) a training step is bound by dispatches, not
//!   FLOPs: two compute kernels run all T steps of a layer. Each workgroup owns one batch row
//!   and keeps h in workgroup memory; batch rows are independent, so no grid-wide sync is
//!   needed (WebGPU has none). W_hh is read from storage.
//! - On the CPU (flex) the same recurrence runs as plain loops around one small matmul per
//!   step, without allocating a tensor per op (the tensor-op GRU spends most of its time there).
//!
//! Both plug into burn through its backend-extension mechanism, with the backward written by
//! hand once for both: the weight gradients are ordinary matmuls over all (t, b) rows.

use burn::tensor::Tensor;

/// The recurrence of one GRU layer on a CubeCL (wgpu) device, or `None` on any other device
/// (the caller runs the tensor-op reference).
///
/// - `gi`: `[T, B, 3H]` (x @ W_ih + b_ih), `w_hh`: `[H, 3H]`, `b_hh`: `[1, 3H]`, `h0`: `[B, H]`
/// - returns `[T + 1, B, H]`: row 0 is `h0`, row t + 1 the hidden state after step t
pub fn gru_sequence(gi: &Tensor<3>, w_hh: &Tensor<2>, b_hh: &Tensor<2>, h0: &Tensor<2>) -> Option<Tensor<3>> {
    use burn::backend::DispatchDevice;
    if disabled() {
        return None;
    }
    let usable = match gi.device().inner().as_dispatch() {
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "wgpu")]
        DispatchDevice::Cube(_) => cube::fits(h0.dims()[1]),
        #[allow(unreachable_patterns)]
        _ => false,
    };
    usable.then(|| ops::gru_sequence(gi.clone(), w_hh.clone(), b_hh.clone(), h0.clone()))
}

/// `SHIGE_TENSOR_OP_GRU=1` turns the kernels off (to measure against them, or to rule them out).
fn disabled() -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    return std::env::var_os("SHIGE_TENSOR_OP_GRU").is_some();
    #[cfg(target_arch = "wasm32")]
    return false;
}

mod ops {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::{Autodiff, Backend, Dispatch, Slice, TensorMetadata, backend_extension, tensor::FloatTensor};
    use burn::tensor::{Shape, Tensor};

    /// The recurrence's two halves on a backend (the GPU kernels, the CPU loops).
    pub trait GruKernels: Backend {
        /// `(hs [T + 1, B, H], cache [T, B, 4H])`: row 0 of hs is h0; the cache keeps r, z, n
        /// and W_hn·h + b_hn of every step for the backward.
        fn gru_forward(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);
        /// `(d4 [T, B, 4H], d_h0 [B, H])` from the gradient of hs: d4 holds dr, dz, dn (input
        /// side) and dn·r (hidden side) before the nonlinearities.
        fn gru_backward(d_hs: FloatTensor<Self>, w_hh: FloatTensor<Self>, hs: FloatTensor<Self>, cache: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);
    }

    #[backend_extension(Cube: cfg(feature = "wgpu"), Flex, Autodiff)]
    pub trait GruOps: Backend {
        /// The recurrence (see `super::gru_sequence`): `[T + 1, B, H]`.
        fn gru_sequence(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self>;
    }

    #[cfg(feature = "wgpu")]
    impl GruOps for burn_cubecl::CubeBackend {
        fn gru_sequence(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self> {
            Self::gru_forward(gi, w_hh, b_hh, h0).0
        }
    }

    impl GruOps for burn::backend::Flex {
        fn gru_sequence(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self> {
            Self::gru_forward(gi, w_hh, b_hh, h0).0
        }
    }

    fn dims<B: Backend, const D: usize>(t: &FloatTensor<B>) -> [usize; D] {
        t.shape().dims::<D>()
    }

    /// `length` columns of a matrix from `start`.
    fn columns<B: Backend>(t: FloatTensor<B>, start: usize, length: usize) -> FloatTensor<B> {
        let rows = dims::<B, 2>(&t)[0];
        B::float_slice(t, &[Slice::from(0..rows), Slice::from(start..start + length)])
    }

    impl<B: GruKernels, C: CheckpointStrategy> GruOps for Autodiff<B, C> {
        fn gru_sequence(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self> {
            #[derive(Debug)]
            struct GruBackward;

            impl<B: GruKernels> Backward<B, 4> for GruBackward {
                /// W_hh, the hidden states and the gate cache.
                type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

                fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
                    let [node_gi, node_w, node_b, node_h0] = ops.parents;
                    let d_hs = grads.consume::<B>(&ops.node);
                    let (w_hh, hs, cache) = ops.state;
                    let [steps, batch, four_h] = dims::<B, 3>(&cache);
                    let hidden = four_h / 4;
                    let (d4, d_h0) = B::gru_backward(d_hs, w_hh, hs.clone(), cache);
                    let rows = steps * batch;
                    let d4 = B::float_reshape(d4, Shape::new([rows, four_h]));
                    if let Some(node) = node_gi {
                        let d_gi = columns::<B>(d4.clone(), 0, 3 * hidden);
                        grads.register::<B>(node.id, B::float_reshape(d_gi, Shape::new([steps, batch, 3 * hidden])));
                    }
                    if node_w.is_some() || node_b.is_some() {
                        // The hidden side: (dr, dz, dn·r) for every (t, b) row: [T*B, 3H]
                        let d_gh = B::float_cat(vec![columns::<B>(d4.clone(), 0, 2 * hidden), columns::<B>(d4, 3 * hidden, hidden)], 1);
                        if let Some(node) = node_w {
                            // dW_hh = h_prevᵀ @ d_gh: [H, T*B] @ [T*B, 3H]
                            let h_prev = B::float_reshape(hs, Shape::new([(steps + 1) * batch, hidden]));
                            let h_prev = B::float_slice(h_prev, &[Slice::from(0..rows), Slice::from(0..hidden)]);
                            grads.register::<B>(node.id, B::float_matmul(B::float_transpose(h_prev), d_gh.clone()));
                        }
                        if let Some(node) = node_b {
                            grads.register::<B>(node.id, B::float_sum_dim(d_gh, 0));
                        }
                    }
                    if let Some(node) = node_h0 {
                        grads.register::<B>(node.id, d_h0);
                    }
                }
            }

            match GruBackward.prepare::<C>([gi.node(), w_hh.node(), b_hh.node(), h0.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let w = w_hh.primitive().clone();
                    let (hs, cache) = B::gru_forward(gi.into_primitive(), w.clone(), b_hh.into_primitive(), h0.into_primitive());
                    prep.finish((w, hs.clone(), cache), hs)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::gru_forward(gi.into_primitive(), w_hh.into_primitive(), b_hh.into_primitive(), h0.into_primitive()).0)
                }
            }
        }
    }

    pub fn gru_sequence(gi: Tensor<3>, w_hh: Tensor<2>, b_hh: Tensor<2>, h0: Tensor<2>) -> Tensor<3> {
        Tensor::from_dispatch(<Dispatch as GruOps>::gru_sequence(
            gi.into_dispatch(),
            w_hh.into_dispatch(),
            b_hh.into_dispatch(),
            h0.into_dispatch(),
        ))
    }
}

#[cfg(feature = "wgpu")]
mod cube {
    use burn::backend::{TensorMetadata, tensor::FloatTensor};
    use burn::tensor::{DType, Shape};
    use burn_cubecl::CubeBackend;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
    use cubecl::prelude::{CubeCount, CubeDim};

    use kernels::{gru_backward, gru_forward};

    /// Workgroup memory the backward needs per hidden unit (5 floats), against WebGPU's
    /// guaranteed 16 KiB: the kernel serves hidden sizes up to 819.
    pub fn fits(hidden: usize) -> bool {
        5 * hidden * 4 <= 16 * 1024
    }

    /// Invocations per workgroup: WebGPU guarantees 256.
    const MAX_UNITS: u32 = 256;

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
        (CubeCount::Static(batch as u32, 1, 1), CubeDim::new_1d((hidden as u32).clamp(1, MAX_UNITS)))
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
}

/// The recurrence on the CPU: the GPU kernels' formulas as loops over host slices, with one
/// matmul (the `gemm` crate, which burn's CPU backend uses too) per time step.
mod cpu {
    use burn::backend::{Flex, TensorMetadata, tensor::FloatTensor};
    use burn::tensor::TensorData;
    use burn_flex::FlexTensor;

    use crate::cpu_support::{Layout::*, matmul, sigmoid, tanh, widest_simd};

    fn values(t: FlexTensor) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().expect("f32 tensors")
    }

    fn tensor(values: Vec<f32>, shape: [usize; 3]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, shape))
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
            let (gi, w, b, h0) = (values(gi), values(w_hh), values(b_hh), values(h0));
            let row = batch * hidden;
            let mut hs = vec![0.0f32; (steps + 1) * row];
            let mut cache = vec![0.0f32; steps * batch * 4 * hidden];
            hs[..row].copy_from_slice(&h0);
            let mut gh = vec![0.0f32; batch * g3];
            for t in 0..steps {
                let (before, after) = hs.split_at_mut((t + 1) * row);
                let (h, h_next) = (&before[t * row..], &mut after[..row]);
                matmul(&mut gh, false, h, Plain, &w, Plain, (batch, hidden, g3)); // [B, 3H]
                for bi in 0..batch {
                    let x = &gi[(t * batch + bi) * g3..][..g3];
                    let c = &mut cache[(t * batch + bi) * 4 * hidden..][..4 * hidden];
                    let rows = bi * hidden..(bi + 1) * hidden;
                    gates(x, &gh[bi * g3..][..g3], &b, &h[rows.clone()], &mut h_next[rows], c);
                }
            }
            (tensor(hs, [steps + 1, batch, hidden]), tensor(cache, [steps, batch, 4 * hidden]))
        }

        fn gru_backward(d_hs: FloatTensor<Self>, w_hh: FloatTensor<Self>, hs: FloatTensor<Self>, cache: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
            let [steps, batch, four_h] = cache.shape().dims::<3>();
            let (hidden, g3) = (four_h / 4, 3 * four_h / 4);
            let (d_hs, w, hs, cache) = (values(d_hs), values(w_hh), values(hs), values(cache));
            let row = batch * hidden;
            let mut d4 = vec![0.0f32; steps * batch * four_h];
            let mut dg = vec![0.0f32; batch * g3];
            let mut carry = vec![0.0f32; row]; // ∂L/∂h from later steps
            let mut dh = vec![0.0f32; row];
            // W_hhᵀ once, row-major: each step's matmul then reads it in place (the browser's
            // packed kernel would otherwise gather it afresh at every step).
            let mut w_t = vec![0.0f32; g3 * hidden];
            for (i, w_row) in w.chunks_exact(g3).enumerate() {
                for (j, &x) in w_row.iter().enumerate() {
                    w_t[j * hidden + i] = x;
                }
            }
            for t in (0..steps).rev() {
                for i in 0..row {
                    dh[i] = d_hs[(t + 1) * row + i] + carry[i];
                }
                for bi in 0..batch {
                    let c = &cache[(t * batch + bi) * four_h..][..four_h];
                    let d = &mut d4[(t * batch + bi) * four_h..][..four_h];
                    let g = &mut dg[bi * g3..][..g3];
                    for j in 0..hidden {
                        let (r, z, n, an) = (c[j], c[hidden + j], c[2 * hidden + j], c[3 * hidden + j]);
                        let dh = dh[bi * hidden + j];
                        let h_prev = hs[t * row + bi * hidden + j];
                        let dn_pre = dh * (1.0 - z) * (1.0 - n * n);
                        let dr_pre = dn_pre * an * r * (1.0 - r);
                        let dz_pre = dh * (h_prev - n) * z * (1.0 - z);
                        (d[j], d[hidden + j], d[2 * hidden + j], d[3 * hidden + j]) = (dr_pre, dz_pre, dn_pre, dn_pre * r);
                        (g[j], g[hidden + j], g[2 * hidden + j]) = (dr_pre, dz_pre, dn_pre * r);
                    }
                }
                // ∂L/∂h_{t-1} = dh ⊙ z + dg @ W_hhᵀ
                for bi in 0..batch {
                    for j in 0..hidden {
                        let z = cache[(t * batch + bi) * four_h + hidden + j];
                        carry[bi * hidden + j] = dh[bi * hidden + j] * z;
                    }
                }
                matmul(&mut carry, true, &dg, Plain, &w_t, Plain, (batch, g3, hidden));
            }
            let d_h0: Vec<f32> = carry.iter().zip(&d_hs[..row]).map(|(c, d)| c + d).collect();
            (tensor(d4, [steps, batch, four_h]), FlexTensor::from_data(TensorData::new(d_h0, [batch, hidden])))
        }
    }
}

/// How far the fused recurrence is from the tensor-op GRU on a device: forward and every
/// gradient of a loss that weighs each output differently. `None` when the device has no fused
/// recurrence.
pub async fn check(device: &burn::tensor::Device) -> Result<Option<crate::kernel_support::KernelCheck>, crate::TrainError> {
    use crate::kernel_support::KernelCheck;
    use crate::model::{Cell, LayerState, Probes, RecurrentLayer};
    use crate::training::read_values;
    use burn::module::Param;
    use burn::tensor::TensorData;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    let (t, b, i, h) = (7, 3, 6, 5);
    let mut rng = StdRng::seed_from_u64(11);
    let mut random = |shape: [usize; 3]| -> Tensor<3> {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-0.5f32..0.5)).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    };
    let x = random([t, b, i]);
    let flat = |t: Tensor<3>| -> Tensor<2> { let [a, b, c] = t.dims(); t.reshape([a * b, c]) };
    let params = [flat(random([1, i, 3 * h])), flat(random([1, h, 3 * h])), flat(random([1, 1, 3 * h])), flat(random([1, 1, 3 * h]))];
    let h0 = flat(random([1, b, h]));
    let weights = random([t, b, h]);
    let last_weights = flat(random([1, b, h]));

    let mut runs = Vec::new();
    for fused in [true, false] {
        let tracked: Vec<Tensor<2>> = params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let layer = RecurrentLayer {
            weight_ih: Param::from_tensor(tracked[0].clone()),
            weight_hh: Param::from_tensor(tracked[1].clone()),
            bias_ih: Param::from_tensor(tracked[2].clone()),
            bias_hh: Param::from_tensor(tracked[3].clone()),
            cell: Cell::Gru,
        };
        let (x, h0) = (x.clone().autodiff().require_grad(), h0.clone().autodiff().require_grad());
        if fused {
            let gi = (flat(x.clone()).matmul(layer.weight_ih.val()) + layer.bias_ih.val()).reshape([t, b, 3 * h]);
            if gru_sequence(&gi, &layer.weight_hh.val(), &layer.bias_hh.val(), &h0).is_none() {
                return Ok(None);
            }
        }
        #[cfg(feature = "wgpu")]
        let counter = crate::dispatch::DispatchCount::start();
        let state = LayerState { h: h0.clone(), c: None };
        let (out, last) = if fused {
            layer.forward(x.clone(), state, &mut Probes::default())
        } else {
            layer.forward_tensor_ops(x.clone(), state, &mut Probes::default())
        };
        let loss = (out.clone() * weights.clone().autodiff()).sum() + (last.h * last_weights.clone().autodiff()).sum();
        let grads = loss.backward();
        #[cfg(feature = "wgpu")]
        let launched = counter.count();
        #[cfg(not(feature = "wgpu"))]
        let launched = 0;
        let mut values = vec![read_values(out.inner()).await?];
        for p in tracked.iter().chain([&h0]) {
            values.push(read_values(p.grad(&grads).expect("tracked")).await?);
        }
        values.push(read_values(x.grad(&grads).expect("tracked")).await?);
        runs.push((values, launched));
    }
    let (reference, reference_dispatches) = runs.pop().expect("two runs");
    let (fused, fused_dispatches) = runs.pop().expect("two runs");
    let names = ["outputs", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0", "dx"];
    let differences = names
        .iter()
        .zip(fused.iter().zip(&reference))
        .map(|(name, (a, b))| {
            let diff = if a.len() == b.len() { a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max) } else { f32::INFINITY };
            (*name, diff)
        })
        .collect();
    Ok(Some(KernelCheck { differences, dispatches: (fused_dispatches, reference_dispatches) }))
}
