//! The output layer's softmax cross-entropy and its gradients worked out by hand: the tensor-op
//! reference (`output_layer_grads`, `summed_nll`), fused loops on the CPU (`cpu.rs`), one
//! CubeCL kernel on wgpu (`cube.rs`). Uses `readback` only.

pub mod cpu;
pub mod cube;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

use super::{Kernel, KernelCheck, Route, flat, route, run_both};
use crate::readback::ReadError;

/// The output layer's summed loss and gradients, worked out by hand: for softmax
/// cross-entropy the gradient of the logits is `softmax - one_hot(target)`, scaled by each
/// position's weight. The `[B*T, V]` logits are the step's largest tensors by far; autodiff's
/// log-softmax and gather pass over them about twice as often as this does.
pub struct OutputLayerGrads {
    /// Sum of the weighted negative log-likelihoods: `[1]`
    pub loss: Tensor<1>,
    /// `[B*T, H]`, `[H, V]`, `[1, V]`
    pub d_hidden: Tensor<2>,
    pub d_weight: Tensor<2>,
    pub d_bias: Tensor<2>,
}

/// - `hidden`: `[N, H]`, `weight`: `[H, V]`, `bias`: `[1, V]`
/// - `targets`: `[N, 1]`; `position_weights`: `[N, 1]` (mask / tokens: PAD positions weigh 0)
pub fn output_layer_grads(
    hidden: Tensor<2>,
    weight: Tensor<2>,
    bias: Tensor<2>,
    targets: Tensor<2, Int>,
    position_weights: Tensor<2>,
) -> OutputLayerGrads {
    let logits = hidden.clone().matmul(weight.clone()) + bias; // [N, V]
    let shifted = logits.clone() - logits.max_dim(1); // [N, V], max 0 per row for a stable exp
    let picked = shifted.clone().gather(1, targets.clone()); // [N, 1]
    let exp = shifted.exp(); // [N, V]
    let sum = exp.clone().sum_dim(1); // [N, 1]
    let nll = sum.clone().log() - picked; // [N, 1]
    let loss = (nll * position_weights.clone()).sum();
    // softmax * w - one_hot * w, with one broadcast multiply and a scatter of -w
    let d_logits = (exp * (position_weights.clone() / sum)).scatter(
        1,
        targets,
        position_weights.neg(),
        IndexingUpdateOp::Add,
    ); // [N, V]
    OutputLayerGrads {
        loss,
        d_hidden: d_logits.clone().matmul(weight.transpose()), // [N, H]
        d_weight: hidden.transpose().matmul(d_logits.clone()), // [H, V]
        d_bias: d_logits.sum_dim(0),                           // [1, V]
    }
}

/// Sum of negative log-likelihoods over unmasked targets (evaluation, and the loss training
/// reports): `[1]`. The reference of `cpu::summed_nll`.
///
/// - `logits`: `[B, T, V]`, `targets`: `[B, T]`, `mask`: `[B, T]`
pub fn summed_nll(logits: Tensor<3>, targets: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<1> {
    let [batch, t_len, vocab] = logits.dims();
    let n = batch * t_len;
    let log_probs = log_softmax(logits.reshape([n, vocab]), 1); // [B*T, V]
    let picked = log_probs.gather(1, targets.reshape([n, 1])).reshape([n]); // [B*T]
    (picked * mask.reshape([n])).sum().neg()
}

/// The CubeCL kernel against its reference, the tensor ops, on random values (loss and the
/// three gradients); `None` where `route` does not send the output layer to the kernel.
pub async fn check(device: &Device) -> Result<Option<KernelCheck>, ReadError> {
    use burn::tensor::Distribution;

    if route(device, Kernel::Output) != Route::Cube {
        return Ok(None);
    }
    let (n, k, v) = (12, 5, 301); // more words than a workgroup has units
    let random = |shape: [usize; 2], scale: f64| Tensor::<2>::random(shape, Distribution::Uniform(-scale, scale), device);
    let (hidden, weight, bias) = (random([n, k], 1.0), random([k, v], 2.0), random([1, v], 1.0));
    let ids: Vec<i32> = (0..n as i32).map(|i| (i * 37 + 3) % v as i32).collect();
    let weights: Vec<f32> = (0..n).map(|i| if i == n - 1 { 0.0 } else { 1.0 / (n - 1) as f32 }).collect();
    let runs = run_both(|kernel| {
        let out = if kernel {
            cube::output_layer_grads(hidden.clone(), weight.clone(), bias.clone(), &ids, &weights)
        } else {
            let targets = Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|&t| t as i64).collect(), [n, 1]), device);
            let w = Tensor::<2>::from_data(TensorData::new(weights.clone(), [n, 1]), device);
            output_layer_grads(hidden.clone(), weight.clone(), bias.clone(), targets, w)
        };
        vec![out.loss, flat(out.d_hidden), flat(out.d_weight), flat(out.d_bias)]
    })
    .await?;
    Ok(Some(KernelCheck::compare(&["loss", "d_hidden", "d_weight", "d_bias"], runs)))
}
