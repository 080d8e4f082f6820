//! The output layer's softmax cross-entropy and its gradient on the wgpu device as one kernel,
//! a workgroup per position: the row's max, the sum of its exps, the loss and softmax − one-hot,
//! all weighted by the position's weight. As tensor ops (`training::output_layer_grads`, this
//! module's reference) that is about thirteen dispatches; the three matmuls around it stay
//! burn's. The CPU has `output_cpu.rs`.

use burn::tensor::{Device, Tensor, TensorData};

use crate::kernel_support::KernelCheck;
use crate::training::OutputLayerGrads;

/// Whether the kernel serves `device`: it binds six tensors and CubeCL's metadata.
/// `SHIGE_TENSOR_OP_OUTPUT=1` asks for the tensor ops.
pub fn usable(device: &Device) -> bool {
    crate::kernel_support::kernel_runs(device, 7, "SHIGE_TENSOR_OP_OUTPUT")
}

/// The loss and gradients of `training::output_layer_grads`, for `hidden` `[N, K]`, `weight`
/// `[K, V]`, `bias` `[1, V]`, a target and a weight per position (`[N]` each). Only on a device
/// where `usable` holds.
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
            super::cube::softmax_cross_entropy(logits, bias, targets, weights)
        }
    }

    pub fn softmax_cross_entropy(logits: Tensor<2>, bias: Tensor<2>, targets: Tensor<1>, weights: Tensor<1>) -> (Tensor<2>, Tensor<1>) {
        let (d, loss) = <Dispatch as SoftmaxOps>::softmax_cross_entropy(logits.into_dispatch(), bias.into_dispatch(), targets.into_dispatch(), weights.into_dispatch());
        (Tensor::from_dispatch(d), Tensor::from_dispatch(loss))
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

    use kernel::softmax_cross_entropy_kernel;

    /// Invocations per workgroup: WebGPU guarantees 256.
    const UNITS: usize = 256;

    /// The kernel (its own module: CubeCL's prelude has its own `Tensor`).
    mod kernel {
        use cubecl::prelude::*;

        use crate::kernel_support::cube::workgroup_reduce;

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

/// The kernel against its reference, the tensor ops, on random values (loss and the three
/// gradients); `None` where the kernel does not serve `device`.
pub async fn check(device: &Device) -> Result<Option<KernelCheck>, crate::TrainError> {
    use crate::training::read_values;
    use burn::tensor::{Distribution, Int};

    if !usable(device) {
        return Ok(None);
    }
    let (n, k, v) = (12, 5, 301); // more words than a workgroup has units
    let random = |shape: [usize; 2], scale: f64| Tensor::<2>::random(shape, Distribution::Uniform(-scale, scale), device);
    let (hidden, weight, bias) = (random([n, k], 1.0), random([k, v], 2.0), random([1, v], 1.0));
    let ids: Vec<i32> = (0..n as i32).map(|i| (i * 37 + 3) % v as i32).collect();
    let weights: Vec<f32> = (0..n).map(|i| if i == n - 1 { 0.0 } else { 1.0 / (n - 1) as f32 }).collect();
    let mut runs = Vec::new();
    for kernel in [true, false] {
        #[cfg(feature = "wgpu")]
        let counter = crate::dispatch::DispatchCount::start();
        let out = if kernel {
            output_layer_grads(hidden.clone(), weight.clone(), bias.clone(), &ids, &weights)
        } else {
            let targets = Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|&t| t as i64).collect(), [n, 1]), device);
            let w = Tensor::<2>::from_data(TensorData::new(weights.clone(), [n, 1]), device);
            crate::training::output_layer_grads(hidden.clone(), weight.clone(), bias.clone(), targets, w)
        };
        let values = vec![read_values(out.loss).await?, read_values(out.d_hidden).await?, read_values(out.d_weight).await?, read_values(out.d_bias).await?];
        #[cfg(feature = "wgpu")]
        let launched = counter.count();
        #[cfg(not(feature = "wgpu"))]
        let launched = 0;
        runs.push((values, launched));
    }
    let (reference, reference_dispatches) = runs.pop().expect("two runs");
    let (fused, fused_dispatches) = runs.pop().expect("two runs");
    let differences = ["loss", "d_hidden", "d_weight", "d_bias"]
        .into_iter()
        .zip(fused.iter().zip(&reference))
        .map(|(name, (a, b))| (name, a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max)))
        .collect();
    Ok(Some(KernelCheck { differences, dispatches: (fused_dispatches, reference_dispatches) }))
}
