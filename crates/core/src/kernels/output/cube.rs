//! The output layer's softmax cross-entropy and its gradient on the wgpu device as one kernel,
//! a workgroup per position: the row's max, the sum of its exps, the loss and softmax − one-hot,
//! all weighted by the position's weight. As tensor ops (`output_layer_grads`, the reference in
//! `mod.rs`) that is about thirteen dispatches; the three matmuls around it stay burn's. The
//! CPU has `cpu.rs`.

use burn::tensor::{Tensor, TensorData};

use super::OutputLayerGrads;

/// The loss and gradients of `output_layer_grads`, for `hidden` `[N, K]`, `weight`
/// `[K, V]`, `bias` `[1, V]`, a target and a weight per position (`[N]` each). Only on a device
/// `route` sends to the CubeCL kernel (it binds six tensors and CubeCL's metadata).
pub fn output_layer_grads(hidden: Tensor<2>, weight: Tensor<2>, bias: Tensor<2>, targets: &[i32], position_weights: &[f32]) -> OutputLayerGrads {
    let device = hidden.device();
    let n = targets.len();
    let upload = |values: Vec<f32>| Tensor::<1>::from_data(TensorData::new(values, [n]), &device);
    // Token ids as floats: exact below 2^24, and one element type for the kernel.
    let targets = upload(targets.iter().map(|&t| t as f32).collect());
    let logits = hidden.clone().matmul(weight.clone()); // [N, V], without the bias
    let (d_logits, row_loss) = ops::softmax_cross_entropy(logits, bias, targets, upload(position_weights.to_vec()));
    OutputLayerGrads {
        loss: row_loss.sum(),
        d_hidden: d_logits.clone().matmul(weight.transpose()), // [N, K]
        d_weight: hidden.transpose().matmul(d_logits.clone()), // [K, V]
        d_bias: d_logits.sum_dim(0),                           // [1, V]
    }
}

mod ops {
    use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
    use burn::tensor::Tensor;

    #[backend_extension(Cube: cfg(feature = "wgpu"))]
    pub trait SoftmaxOps: Backend {
        /// `(d_logits [N, V], row_loss [N])` from logits `[N, V]` (before the bias), the bias
        /// `[1, V]`, targets and weights `[N]`.
        fn softmax_cross_entropy(logits: FloatTensor<Self>, bias: FloatTensor<Self>, targets: FloatTensor<Self>, weights: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);
    }

    #[cfg(feature = "wgpu")]
    impl SoftmaxOps for burn_cubecl::CubeBackend {
        fn softmax_cross_entropy(logits: FloatTensor<Self>, bias: FloatTensor<Self>, targets: FloatTensor<Self>, weights: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
            super::launch::softmax_cross_entropy(logits, bias, targets, weights)
        }
    }

    pub fn softmax_cross_entropy(logits: Tensor<2>, bias: Tensor<2>, targets: Tensor<1>, weights: Tensor<1>) -> (Tensor<2>, Tensor<1>) {
        let (d, loss) = <Dispatch as SoftmaxOps>::softmax_cross_entropy(logits.into_dispatch(), bias.into_dispatch(), targets.into_dispatch(), weights.into_dispatch());
        (Tensor::from_dispatch(d), Tensor::from_dispatch(loss))
    }
}

/// The kernel and its launch.
#[cfg(feature = "wgpu")]
mod launch {
    use burn::backend::{TensorMetadata, tensor::FloatTensor};
    use burn::tensor::{DType, Shape};
    use burn_cubecl::CubeBackend;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
    use cubecl::prelude::{CubeCount, CubeDim};

    use crate::kernels::UNITS;
    use kernel::softmax_cross_entropy_kernel;

    /// The kernel (its own module: CubeCL's prelude has its own `Tensor`).
    mod kernel {
        use cubecl::prelude::*;

        use crate::kernels::workgroup::workgroup_reduce;

        /// A workgroup per row; its units stride over the vocabulary. Two tree reductions in
        /// workgroup memory (the max, then the sum of exps), then the gradient.
        #[cube(launch)]
        pub fn softmax_cross_entropy_kernel(
            logits: &Tensor<f32>,   // [N, V]
            bias: &Tensor<f32>,     // [V]
            targets: &Tensor<f32>,  // [N]
            weights: &Tensor<f32>,  // [N]
            d_logits: &mut Tensor<f32>, // [N, V]
            row_loss: &mut Tensor<f32>, // [N]
            #[comptime] units: usize,
        ) {
            let row = CUBE_POS_X as usize;
            let unit = UNIT_POS_X as usize;
            let stride = CUBE_DIM_X as usize; // = units, as a runtime value for the loops
            let vocab = bias.len();
            let base = row * vocab;
            let mut partial = Shared::<[f32]>::new_slice(units);

            let mut max = logits[base] + bias[0]; // any element of the row: a start for the max
            let mut j = unit;
            while j < vocab {
                max = f32::max(max, logits[base + j] + bias[j]);
                j += stride;
            }
            let max = workgroup_reduce(&mut partial, max, true);

            let mut sum = 0.0f32;
            let mut j = unit;
            while j < vocab {
                sum += (logits[base + j] + bias[j] - max).exp();
                j += stride;
            }
            let sum = workgroup_reduce(&mut partial, sum, false);

            let weight = weights[row];
            let target = usize::cast_from(targets[row]);
            let scale = weight / sum;
            let mut j = unit;
            while j < vocab {
                let mut d = (logits[base + j] + bias[j] - max).exp() * scale;
                if j == target {
                    d -= weight;
                }
                d_logits[base + j] = d;
                j += stride;
            }
            if unit == 0 {
                row_loss[row] = weight * (sum.ln() - (logits[base + target] + bias[target] - max));
            }
        }
    }

    pub fn softmax_cross_entropy(
        logits: FloatTensor<CubeBackend>,
        bias: FloatTensor<CubeBackend>,
        targets: FloatTensor<CubeBackend>,
        weights: FloatTensor<CubeBackend>,
    ) -> (FloatTensor<CubeBackend>, FloatTensor<CubeBackend>) {
        let (logits, bias, targets, weights) = (into_contiguous(logits), into_contiguous(bias), into_contiguous(targets), into_contiguous(weights));
        assert_eq!(logits.dtype, DType::F32, "the softmax kernel is f32");
        let (client, device) = (logits.client.clone(), logits.device.clone());
        let [rows, vocab] = logits.shape().dims::<2>();
        let d_logits = empty_device_contiguous_dtype(client.clone(), device.clone(), Shape::new([rows, vocab]), DType::F32);
        let row_loss = empty_device_contiguous_dtype(client.clone(), device, Shape::new([rows]), DType::F32);
        softmax_cross_entropy_kernel::launch(
            &client,
            CubeCount::Static(rows as u32, 1, 1),
            CubeDim::new_1d(UNITS as u32),
            logits.into_tensor_arg(),
            bias.into_tensor_arg(),
            targets.into_tensor_arg(),
            weights.into_tensor_arg(),
            d_logits.clone().into_tensor_arg(),
            row_loss.clone().into_tensor_arg(),
            UNITS,
        );
        (d_logits, row_loss)
    }
}
