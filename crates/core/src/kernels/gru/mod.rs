//! A GRU layer as one operation forward and one backward, instead of about ten tensor ops per
//! time step (its reference is the model's `RecurrentLayer::forward_tensor_ops`, which serves
//! every cell): CubeCL kernels (`cube.rs`), CPU loops (`cpu.rs`), plugged into burn as a backend
//! extension whose backward is written once for both. Uses nothing outside `kernels`.

use burn::tensor::Tensor;

use super::{Kernel, Route, route};

#[cfg(feature = "wgpu")]
mod cube;
mod cpu;

/// One GRU layer, input projection and recurrence, as one operation on a CubeCL (wgpu) or CPU
/// device, or `None` on any other (the caller runs the tensor-op reference).
///
/// - `x`: `[T, B, D]`, `w_ih`: `[D, 3H]`, `b_ih`: `[1, 3H]`, `w_hh`: `[H, 3H]`, `b_hh`: `[1, 3H]`, `h0`: `[B, H]`
/// - returns `[T + 1, B, H]`: row 0 is `h0`, row t + 1 the hidden state after step t
pub fn gru_layer(x: &Tensor<3>, w_ih: &Tensor<2>, b_ih: &Tensor<2>, w_hh: &Tensor<2>, b_hh: &Tensor<2>, h0: &Tensor<2>) -> Option<Tensor<3>> {
    usable(&x.device(), h0.dims()[1]).then(|| ops::gru_layer(x.clone(), w_ih.clone(), b_ih.clone(), w_hh.clone(), b_hh.clone(), h0.clone()))
}

/// Whether [`gru_layer`] runs as one operation on `device` for this hidden size: the CPU loops
/// or the CubeCL kernels, as `route` says (`SHIGE_TENSOR_OP_GRU=1` asks for the reference).
pub fn usable(device: &burn::tensor::Device, hidden: usize) -> bool {
    route(device, Kernel::Gru { hidden }) != Route::TensorOps
}

/// Workgroup memory the CubeCL backward needs per hidden unit (5 floats), against WebGPU's
/// guaranteed 16 KiB: the kernel serves hidden sizes up to 819.
#[cfg(feature = "wgpu")]
pub(crate) fn fits_workgroup_memory(hidden: usize) -> bool {
    5 * hidden * 4 <= 16 * 1024
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
