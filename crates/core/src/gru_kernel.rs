//! A GRU layer as one operation forward and one backward, instead of about ten tensor ops per
//! time step (`model::RecurrentLayer::forward_tensor_ops`, this module's reference).
//!
//! - On a GPU (CubeCL, so WebGPU in the browser) a training step is bound by dispatches, not
//!   FLOPs: two compute kernels run all T steps of a layer. Each workgroup owns one batch row
//!   and keeps h in workgroup memory; batch rows are independent, so no grid-wide sync is
//!   needed (WebGPU has none). W_hh is read from storage.
//! - On the CPU (flex) the same recurrence runs as plain loops around one small matmul per
//!   step, without allocating a tensor per op (the tensor-op GRU spends most of its time there),
//!   and the input projection and weight gradients go straight to `cpu_support::matmul` (in the
//!   browser, the packed kernel instead of burn's `gemm`).
//!
//! Both plug into burn through its backend-extension mechanism, with the backward written by
//! hand once for both: the weight gradients are ordinary matmuls over all (t, b) rows.

use burn::tensor::Tensor;

/// One GRU layer, input projection and recurrence, as one operation on a CubeCL (wgpu) or CPU
/// device, or `None` on any other (the caller runs the tensor-op reference).
///
/// - `x`: `[T, B, D]`, `w_ih`: `[D, 3H]`, `b_ih`: `[1, 3H]`, `w_hh`: `[H, 3H]`, `b_hh`: `[1, 3H]`, `h0`: `[B, H]`
/// - returns `[T + 1, B, H]`: row 0 is `h0`, row t + 1 the hidden state after step t
pub fn gru_layer(x: &Tensor<3>, w_ih: &Tensor<2>, b_ih: &Tensor<2>, w_hh: &Tensor<2>, b_hh: &Tensor<2>, h0: &Tensor<2>) -> Option<Tensor<3>> {
    usable(&x.device(), h0.dims()[1]).then(|| ops::gru_layer(x.clone(), w_ih.clone(), b_ih.clone(), w_hh.clone(), b_hh.clone(), h0.clone()))
}

/// Whether [`gru_layer`] runs as one operation on `device` for this hidden size.
#[cfg_attr(not(feature = "wgpu"), allow(unused_variables))] // only the GPU kernels have a size limit
fn usable(device: &burn::tensor::Device, hidden: usize) -> bool {
    use burn::backend::DispatchDevice;
    if disabled() {
        return false;
    }
    match device.clone().inner().as_dispatch() {
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "wgpu")]
        DispatchDevice::Cube(_) => cube::fits(hidden),
        #[allow(unreachable_patterns)]
        _ => false,
    }
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

    /// The gradients of a GRU layer's inputs and weights, from the recurrence's d4.
    pub struct LayerGradients<B: Backend> {
        pub d_x: FloatTensor<B>,
        pub d_w_ih: FloatTensor<B>,
        pub d_b_ih: FloatTensor<B>,
        pub d_w_hh: FloatTensor<B>,
        pub d_b_hh: FloatTensor<B>,
    }

    /// A GRU layer's parts on a backend (the GPU kernels, the CPU loops). The projections and
    /// weight gradients are ordinary matmuls: tensor ops unless a backend has faster ones.
    pub trait GruKernels: Backend {
        /// `(hs [T + 1, B, H], cache [T, B, 4H])`: row 0 of hs is h0; the cache keeps r, z, n
        /// and W_hn·h + b_hn of every step for the backward.
        fn gru_forward(gi: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);
        /// `(d4 [T, B, 4H], d_h0 [B, H])` from the gradient of hs: d4 holds dr, dz, dn (input
        /// side) and dn·r (hidden side) before the nonlinearities.
        fn gru_backward(d_hs: FloatTensor<Self>, w_hh: FloatTensor<Self>, hs: FloatTensor<Self>, cache: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);

        /// Every time step's input projection at once: `gi = x @ W_ih + b_ih`, `[T, B, 3H]`.
        fn gru_input_projection(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, b_ih: FloatTensor<Self>) -> FloatTensor<Self> {
            let [steps, batch, d_in] = dims::<Self, 3>(&x);
            let x = Self::float_reshape(x, Shape::new([steps * batch, d_in]));
            let gi = Self::float_add(Self::float_matmul(x, w_ih), b_ih); // [T*B, 3H]
            let g3 = dims::<Self, 2>(&gi)[1];
            Self::float_reshape(gi, Shape::new([steps, batch, g3]))
        }

        /// The gradients of x and of the weights over all (t, b) rows, from d4 `[T, B, 4H]`,
        /// the layer's input x `[T, B, D]` and its states hs `[T + 1, B, H]`.
        fn gru_layer_gradients(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, hs: FloatTensor<Self>, d4: FloatTensor<Self>) -> LayerGradients<Self> {
            let [steps, batch, d_in] = dims::<Self, 3>(&x);
            let hidden = dims::<Self, 3>(&hs)[2];
            let rows = steps * batch;
            let d4 = Self::float_reshape(d4, Shape::new([rows, 4 * hidden]));
            let x = Self::float_reshape(x, Shape::new([rows, d_in]));
            // The input side: (dr, dz, dn) for every (t, b) row: [T*B, 3H]
            let d_gi = columns::<Self>(d4.clone(), 0, 3 * hidden);
            // The hidden side: (dr, dz, dn·r): [T*B, 3H]
            let d_gh = Self::float_cat(vec![columns::<Self>(d4.clone(), 0, 2 * hidden), columns::<Self>(d4, 3 * hidden, hidden)], 1);
            let h_prev = Self::float_reshape(hs, Shape::new([(steps + 1) * batch, hidden]));
            let h_prev = Self::float_slice(h_prev, &[Slice::from(0..rows), Slice::from(0..hidden)]);
            LayerGradients {
                d_x: Self::float_reshape(Self::float_matmul(d_gi.clone(), Self::float_transpose(w_ih)), Shape::new([steps, batch, d_in])),
                d_w_ih: Self::float_matmul(Self::float_transpose(x), d_gi.clone()),
                d_b_ih: Self::float_sum_dim(d_gi, 0),
                d_w_hh: Self::float_matmul(Self::float_transpose(h_prev), d_gh.clone()),
                d_b_hh: Self::float_sum_dim(d_gh, 0),
            }
        }
    }

    #[backend_extension(Cube: cfg(feature = "wgpu"), Flex, Autodiff)]
    pub trait GruOps: Backend {
        /// The layer (see `super::gru_layer`): `[T + 1, B, H]`.
        fn gru_layer(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, b_ih: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self>;
    }

    fn forward_only<B: GruKernels>(x: FloatTensor<B>, w_ih: FloatTensor<B>, b_ih: FloatTensor<B>, w_hh: FloatTensor<B>, b_hh: FloatTensor<B>, h0: FloatTensor<B>) -> FloatTensor<B> {
        B::gru_forward(B::gru_input_projection(x, w_ih, b_ih), w_hh, b_hh, h0).0
    }

    #[cfg(feature = "wgpu")]
    impl GruOps for burn_cubecl::CubeBackend {
        fn gru_layer(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, b_ih: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self> {
            forward_only::<Self>(x, w_ih, b_ih, w_hh, b_hh, h0)
        }
    }

    impl GruOps for burn::backend::Flex {
        fn gru_layer(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, b_ih: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self> {
            forward_only::<Self>(x, w_ih, b_ih, w_hh, b_hh, h0)
        }
    }

    fn dims<B: Backend, const D: usize>(t: &FloatTensor<B>) -> [usize; D] {
        t.shape().dims::<D>()
    }

    fn columns<B: Backend>(t: FloatTensor<B>, start: usize, length: usize) -> FloatTensor<B> {
        let rows = dims::<B, 2>(&t)[0];
        B::float_slice(t, &[Slice::from(0..rows), Slice::from(start..start + length)])
    }

    impl<B: GruKernels, C: CheckpointStrategy> GruOps for Autodiff<B, C> {
        fn gru_layer(x: FloatTensor<Self>, w_ih: FloatTensor<Self>, b_ih: FloatTensor<Self>, w_hh: FloatTensor<Self>, b_hh: FloatTensor<Self>, h0: FloatTensor<Self>) -> FloatTensor<Self> {
            #[derive(Debug)]
            struct GruBackward;

            impl<B: GruKernels> Backward<B, 6> for GruBackward {
                /// x, W_ih, W_hh, the hidden states and the gate cache.
                type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

                fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
                    let [node_x, node_w_ih, node_b_ih, node_w_hh, node_b_hh, node_h0] = ops.parents;
                    let d_hs = grads.consume::<B>(&ops.node);
                    let (x, w_ih, w_hh, hs, cache) = ops.state;
                    let (d4, d_h0) = B::gru_backward(d_hs, w_hh, hs.clone(), cache);
                    let g = B::gru_layer_gradients(x, w_ih, hs, d4);
                    for (node, grad) in [(node_x, g.d_x), (node_w_ih, g.d_w_ih), (node_b_ih, g.d_b_ih), (node_w_hh, g.d_w_hh), (node_b_hh, g.d_b_hh), (node_h0, d_h0)] {
                        if let Some(node) = node {
                            grads.register::<B>(node.id, grad);
                        }
                    }
                }
            }

            let parents = [x.node(), w_ih.node(), b_ih.node(), w_hh.node(), b_hh.node(), h0.node()];
            match GruBackward.prepare::<C>(parents).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let (x, w_ih, w_hh) = (x.primitive().clone(), w_ih.primitive().clone(), w_hh.primitive().clone());
                    let gi = B::gru_input_projection(x.clone(), w_ih.clone(), b_ih.into_primitive());
                    let (hs, cache) = B::gru_forward(gi, w_hh.clone(), b_hh.into_primitive(), h0.into_primitive());
                    prep.finish((x, w_ih, w_hh, hs.clone(), cache), hs)
                }
                OpsKind::UnTracked(prep) => prep.finish(forward_only::<B>(
                    x.into_primitive(),
                    w_ih.into_primitive(),
                    b_ih.into_primitive(),
                    w_hh.into_primitive(),
                    b_hh.into_primitive(),
                    h0.into_primitive(),
                )),
            }
        }
    }

    pub fn gru_layer(x: Tensor<3>, w_ih: Tensor<2>, b_ih: Tensor<2>, w_hh: Tensor<2>, b_hh: Tensor<2>, h0: Tensor<2>) -> Tensor<3> {
        Tensor::from_dispatch(<Dispatch as GruOps>::gru_layer(
            x.into_dispatch(),
            w_ih.into_dispatch(),
            b_ih.into_dispatch(),
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

/// The layer on the CPU: the GPU kernels' formulas as loops over host slices, with one matmul
/// (`cpu_support::matmul`) per time step, and the projections and weight gradients as matmuls
/// over all (t, b) rows that read their operands in place.
mod cpu {
    use std::borrow::Cow;
    use std::ops::Range;

    use burn::backend::{Flex, TensorMetadata, tensor::FloatTensor};
    use burn::tensor::TensorData;
    use burn_flex::FlexTensor;

    use super::ops::LayerGradients;
    use crate::cpu_support::{Layout::*, matmul, matmul_on_this_thread, sigmoid, tanh, widest_simd};

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
        if fused && !usable(device, h) {
            return Ok(None);
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
