//! The Transformer's two element-heavy parts as one operation each way: GELU (with erf, as
//! PyTorch's `nn.GELU()`) and causal multi-head self-attention from `c_attn`'s output. As tensor
//! ops (the references here, which every other device runs) they are a chain of single-threaded
//! passes over `[B·T, 4E]` and `[B, H, T, T]` tensors under autodiff, about a third of a CPU
//! training step; the CPU loops (`cpu.rs`) fuse each into one pass forward and one backward,
//! split across cores. Plugged into burn as a backend extension with its backward written here.
//! Uses nothing outside `kernels`.

mod cpu;

use burn::tensor::activation::gelu as burn_gelu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor};

use super::{Kernel, KernelCheck, Route, flat, route, run_both};
use crate::readback::ReadError;

/// GELU with erf: `x · Φ(x)`, the CPU loops on the CPU, else the reference.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match route(&x.device(), Kernel::Gelu) {
        Route::CpuLoops => Tensor::from_dispatch(<burn::backend::Dispatch as ops::TransformerOps>::gelu_erf(x.into_dispatch())),
        _ => gelu_tensor_ops(x),
    }
}

/// The reference: `x · (1 + erf(x/√2)) / 2` as tensor ops, which autodiff differentiates
/// exactly. (burn's own `gelu` is exact forward; its default backward, which WebGPU uses, is
/// the tanh approximation's; on the CPU burn's is exact both ways.)
pub fn gelu_tensor_ops<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if matches!(x.device().inner().as_dispatch(), burn::backend::DispatchDevice::Flex(_)) {
        burn_gelu(x)
    } else {
        x.clone() * x.div_scalar(std::f32::consts::SQRT_2).erf().add_scalar(1.0).div_scalar(2.0)
    }
}

/// Causal self-attention over `c_attn`'s output, before `c_proj`: the CPU loops on the CPU,
/// else the reference.
///
/// - `qkv`: `[B, T, 3E]` (q, k, v side by side, each `heads` blocks of E/heads)
/// - returns `[B, T, E]`: each head's softmax(QKᵀ/√d, causal) V, heads side by side
pub fn causal_attention(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    match route(&qkv.device(), Kernel::Attention) {
        Route::CpuLoops => Tensor::from_dispatch(<burn::backend::Dispatch as ops::TransformerOps>::causal_attention(qkv.into_dispatch(), heads)),
        _ => causal_attention_tensor_ops(qkv, heads),
    }
}

/// The reference: q, k, v split into heads `[B, H, T, d]`, burn's fused `attention` (causal,
/// scale 1/√d; under autodiff, its tensor-op fallback), the heads joined again.
pub fn causal_attention_tensor_ops(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    let [b, t, e3] = qkv.dims();
    let (e, d) = (e3 / 3, e3 / 3 / heads);
    let head = |i: usize| qkv.clone().narrow(2, i * e, e).reshape([b, t, heads, d]).swap_dims(1, 2);
    let causal = AttentionModuleOptions { is_causal: true, ..Default::default() };
    attention(head(0), head(1), head(2), None, None, causal).swap_dims(1, 2).reshape([b, t, e])
}

mod ops {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::{Autodiff, Backend, backend_extension, tensor::FloatTensor};

    /// The loops a backend runs for these operations (the CPU's, `cpu.rs`).
    pub trait TransformerKernels: Backend {
        fn erf_gelu_forward(x: FloatTensor<Self>) -> FloatTensor<Self>;
        /// `d_y · (Φ(x) + x·φ(x))`
        fn erf_gelu_backward(x: FloatTensor<Self>, d_y: FloatTensor<Self>) -> FloatTensor<Self>;
        /// `(y [B, T, E], weights [B, H, T, T])`: the weights are kept for the backward.
        fn attention_forward(qkv: FloatTensor<Self>, heads: usize) -> (FloatTensor<Self>, FloatTensor<Self>);
        /// `d_qkv [B, T, 3E]` from `d_y [B, T, E]`.
        fn attention_backward(d_y: FloatTensor<Self>, qkv: FloatTensor<Self>, weights: FloatTensor<Self>, heads: usize) -> FloatTensor<Self>;
    }

    #[backend_extension(Flex, Autodiff)]
    pub trait TransformerOps: Backend {
        fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self>;
        fn causal_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self>;
    }

    impl TransformerOps for burn::backend::Flex {
        fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self> {
            Self::erf_gelu_forward(x)
        }
        fn causal_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
            Self::attention_forward(qkv, heads).0
        }
    }

    impl<B: TransformerKernels, C: CheckpointStrategy> TransformerOps for Autodiff<B, C> {
        fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self> {
            #[derive(Debug)]
            struct GeluBackward;

            impl<B: TransformerKernels> Backward<B, 1> for GeluBackward {
                type State = FloatTensor<B>;

                fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                    let [node] = ops.parents;
                    let d_y = grads.consume::<B>(&ops.node);
                    if let Some(node) = node {
                        grads.register::<B>(node.id, B::erf_gelu_backward(ops.state, d_y));
                    }
                }
            }

            match GeluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let x = x.primitive().clone();
                    prep.finish(x.clone(), B::erf_gelu_forward(x))
                }
                OpsKind::UnTracked(prep) => prep.finish(B::erf_gelu_forward(x.into_primitive())),
            }
        }

        fn causal_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
            #[derive(Debug)]
            struct AttentionBackward;

            impl<B: TransformerKernels> Backward<B, 1> for AttentionBackward {
                /// qkv, the attention weights, heads
                type State = (FloatTensor<B>, FloatTensor<B>, usize);

                fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                    let [node] = ops.parents;
                    let d_y = grads.consume::<B>(&ops.node);
                    let (qkv, weights, heads) = ops.state;
                    if let Some(node) = node {
                        grads.register::<B>(node.id, B::attention_backward(d_y, qkv, weights, heads));
                    }
                }
            }

            match AttentionBackward.prepare::<C>([qkv.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let qkv = qkv.primitive().clone();
                    let (y, weights) = B::attention_forward(qkv.clone(), heads);
                    prep.finish((qkv, weights, heads), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::attention_forward(qkv.into_primitive(), heads).0),
            }
        }
    }
}

/// The CPU loops against their references on random values: GELU's output and gradient, the
/// attention's output and the gradient of qkv; `None` where `route` sends neither to the loops.
pub async fn check(device: &Device) -> Result<Option<KernelCheck>, ReadError> {
    use burn::tensor::Distribution;

    if route(device, Kernel::Gelu) != Route::CpuLoops || route(device, Kernel::Attention) != Route::CpuLoops {
        return Ok(None);
    }
    let (b, t, heads, d) = (3, 7, 2, 5); // odd sizes: no lane or tile is full
    let e = heads * d;
    let random = |shape: [usize; 3], scale: f64| Tensor::<3>::random(shape, Distribution::Uniform(-scale, scale), device);
    let (x, d_x_weights) = (random([b, t, 4 * e], 4.0), random([b, t, 4 * e], 1.0));
    let (qkv, d_y_weights) = (random([b, t, 3 * e], 2.0), random([b, t, e], 1.0));
    let runs = run_both(|fused| {
        let (x, qkv) = (x.clone().autodiff().require_grad(), qkv.clone().autodiff().require_grad());
        let (g, y) = if fused {
            (gelu(x.clone()), causal_attention(qkv.clone(), heads))
        } else {
            (gelu_tensor_ops(x.clone()), causal_attention_tensor_ops(qkv.clone(), heads))
        };
        let loss = (g.clone() * d_x_weights.clone().autodiff()).sum() + (y.clone() * d_y_weights.clone().autodiff()).sum();
        let grads = loss.backward();
        vec![flat(g.inner()), flat(x.grad(&grads).expect("tracked")), flat(y.inner()), flat(qkv.grad(&grads).expect("tracked"))]
    })
    .await?;
    Ok(Some(KernelCheck::compare(&["gelu", "d gelu", "attention", "d qkv"], runs)))
}
