//! Adam on the CPU in one pass per parameter tensor, split across cores: the gradient norm,
//! clipping, both moments, the update and the sum that tells whether the new weights are
//! finite. As tensor ops (`adam_tensor_ops`, the reference in `mod.rs`) each of those is its own
//! pass over the weights, on one core.

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::{AdamParams, AdamState};
use crate::readback::{ReadError, read_values};

const CHUNK: usize = 16 * 1024;

/// The step's new weights and moments (not yet committed), with the gradients' global norm
/// (before clipping) and the sum of the new weights (non-finite if any weight is).
pub struct CpuUpdate {
    pub params: Vec<Tensor<2>>,
    pub adam: AdamState,
    pub grad_norm: f32,
    pub weights_sum: f64,
}

/// Adam as `adam_tensor_ops` computes it, on host copies of the tensors.
pub async fn adam_step(
    params: &[Tensor<2>],
    grads: Vec<Tensor<2>>,
    adam: &AdamState,
    c: &AdamParams,
) -> Result<CpuUpdate, ReadError> {
    let device = params[0].device();
    let shapes: Vec<[usize; 2]> = params.iter().map(|p| p.dims()).collect();
    let mut g = Vec::with_capacity(grads.len());
    for grad in grads {
        g.push(read_values(grad).await?); // fresh tensors: moved, not copied
    }
    let squares: f64 = g.par_iter().flat_map(|g| g.par_chunks(CHUNK)).map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>()).sum();
    let grad_norm = squares.sqrt() as f32;
    let scale = if c.grad_clip > 0.0 { (c.grad_clip / (grad_norm as f64).max(c.grad_clip)) as f32 } else { 1.0 };
    let t = adam.t + 1;
    let (b1, b2, eps) = (c.beta1 as f32, c.beta2 as f32, c.epsilon as f32);
    let (step_size, v_scale) = c.scales(t);
    let mut next = CpuUpdate { params: Vec::new(), adam: AdamState { m: Vec::new(), v: Vec::new(), t }, grad_norm, weights_sum: 0.0 };
    for (i, grad) in g.into_iter().enumerate() {
        let (mut p, mut m, mut v) = (read_values(params[i].clone()).await?, read_values(adam.m[i].clone()).await?, read_values(adam.v[i].clone()).await?);
        let sum: f64 = p
            .par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(grad.par_chunks(CHUNK))
            .map(|(((p, m), v), g)| {
                let mut sum = 0.0f64;
                for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                    let g = g * scale;
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *p -= step_size * *m / ((*v * v_scale).sqrt() + eps);
                    sum += *p as f64;
                }
                sum
            })
            .sum();
        next.weights_sum += sum;
        let tensor = |values: Vec<f32>| Tensor::from_data(TensorData::new(values, shapes[i]), &device);
        next.params.push(tensor(p));
        next.adam.m.push(tensor(m));
        next.adam.v.push(tensor(v));
    }
    Ok(next)
}
