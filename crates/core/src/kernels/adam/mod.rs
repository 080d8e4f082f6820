//! Adam with global-norm gradient clipping: its tensor-op reference (`adam_tensor_ops`), one
//! fused pass per tensor on the CPU (`cpu.rs`), two CubeCL kernels per tensor on wgpu
//! (`cube.rs`). Takes its own hyper-parameters (`AdamParams`); uses `readback` only.

pub mod cpu;
pub mod cube;

use burn::tensor::{Device, Tensor, TensorData};

use super::{Kernel, Route, flat, route, run_both};
use crate::readback::{ReadError, read_values};

/// Adam's hyper-parameters, as all three versions of the step use them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamParams {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Largest global L2 norm of the gradients; 0 turns clipping off.
    pub grad_clip: f64,
}

impl AdamParams {
    /// Adam's bias corrections at step `t` (from 1) folded into two factors, as the optimiser
    /// (its tensor ops and both kernels) uses them: the step size lr / (1 − β1ᵗ) and the second moment's scale 1 / (1 − β2ᵗ).
    pub(crate) fn scales(&self, t: u64) -> (f32, f32) {
        let t = t.min(i32::MAX as u64) as i32;
        ((self.learning_rate / (1.0 - self.beta1.powi(t))) as f32, (1.0 / (1.0 - self.beta2.powi(t))) as f32)
    }
}

/// Adam's moments, one pair per parameter, and its step count.
#[derive(Debug, Clone)]
pub struct AdamState {
    pub m: Vec<Tensor<2>>,
    pub v: Vec<Tensor<2>>,
    pub t: u64,
}

/// A step's new weights and optimizer state, before they are committed.
pub(crate) struct Update {
    pub(crate) params: Vec<Tensor<2>>,
    pub(crate) adam: AdamState,
}

/// Adam (bias-corrected) after scaling all gradients so their global norm is at most
/// `grad_clip`: the weights and moments it would give, on the device, not yet committed. The
/// reference of the fused versions (`cpu.rs`, `cube.rs`).
pub(crate) fn adam_tensor_ops(params: &[Tensor<2>], old: &AdamState, grads: Vec<Tensor<2>>, norm: Tensor<1>, c: &AdamParams) -> Update {
    let scale = (c.grad_clip > 0.0)
        .then(|| norm.clamp_min(c.grad_clip).recip().mul_scalar(c.grad_clip).reshape([1, 1]));
    let t = old.t + 1;
    let (step_size, v_scale) = c.scales(t);
    let mut next = Update { params: Vec::new(), adam: AdamState { m: Vec::new(), v: Vec::new(), t } };
    for (i, grad) in grads.into_iter().enumerate() {
        let grad = match &scale {
            Some(s) => grad * s.clone(),
            None => grad,
        };
        let m = old.m[i].clone().mul_scalar(c.beta1) + grad.clone().mul_scalar(1.0 - c.beta1);
        let v = old.v[i].clone().mul_scalar(c.beta2) + grad.square().mul_scalar(1.0 - c.beta2);
        let denom = v.clone().mul_scalar(v_scale).sqrt().add_scalar(c.epsilon);
        let update = m.clone().mul_scalar(step_size) / denom;
        next.params.push(params[i].clone() - update);
        next.adam.m.push(m);
        next.adam.v.push(v);
    }
    next
}

/// The CubeCL kernels against their reference on `device` (a test and the browser's self-check).
pub struct AdamCheck {
    /// Largest absolute difference in the new weights, m and v.
    pub difference: f32,
    /// Relative difference of the gradients' squared global norm.
    pub norm_difference: f32,
    /// The finiteness flag: (finite gradients, one gradient NaN); 0 and 1 when right.
    pub flags: (f32, f32),
    /// The loss as the figures carry it (the check passes 4.25).
    pub loss: f32,
    /// Dispatches of one update, the gradient norm included: (kernels, tensor ops).
    pub dispatches: (usize, usize),
}

/// Runs both on random tensors; `None` where `route` does not send Adam to the CubeCL kernels.
pub async fn check(device: &Device) -> Result<Option<AdamCheck>, ReadError> {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    if route(device, Kernel::Adam) != Route::Cube {
        return Ok(None);
    }
    let mut rng = StdRng::seed_from_u64(5);
    let mut random = |shape: [usize; 2], scale: f32| -> Tensor<2> {
        let values: Vec<f32> = (0..shape[0] * shape[1]).map(|_| rng.random_range(-scale..scale)).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    };
    let shapes = [[300, 7], [1, 513], [65, 129]]; // odd sizes: partial workgroups
    let params: Vec<Tensor<2>> = shapes.iter().map(|&s| random(s, 1.0)).collect();
    let adam = AdamState {
        m: shapes.iter().map(|&s| random(s, 0.1)).collect(),
        v: shapes.iter().map(|&s| random(s, 0.1).abs()).collect(),
        t: 3,
    };
    let grads: Vec<Tensor<2>> = shapes.iter().map(|&s| random(s, 2.0)).collect(); // norm ≈ 120: clipped
    // TrainConfig's defaults.
    let hyper = AdamParams { learning_rate: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, grad_clip: 1.0 };
    let n = grads.len();
    let loss = Tensor::<1>::from_data(TensorData::new(vec![4.25f32], [1]), device);

    // Each run returns its figures first (the kernels' `[n + 2]`, the reference's squared
    // norm `[1]`), then the new weights, m and v.
    let [kernel, reference] = run_both(|kernel| {
        let (next, figures) = if kernel {
            cube::adam_step(&params, grads.clone(), &adam, loss.clone(), &hyper)
        } else {
            let squared_norm = grads.iter().map(|g| g.clone().square().sum()).reduce(|a, b| a + b).expect("tensors");
            (adam_tensor_ops(&params, &adam, grads.clone(), squared_norm.clone().sqrt(), &hyper), squared_norm)
        };
        std::iter::once(figures).chain(next.params.into_iter().chain(next.adam.m).chain(next.adam.v).map(flat)).collect()
    })
    .await?;
    let difference = kernel.outputs[1..]
        .iter()
        .zip(&reference.outputs[1..])
        .flat_map(|(k, r)| k.iter().zip(r).map(|(a, b)| (a - b).abs()))
        .fold(0.0f32, f32::max);
    let (figures, squared_norm) = (&kernel.outputs[0], reference.outputs[0][0]);
    let norm_difference = (figures[..n].iter().sum::<f32>() - squared_norm).abs() / squared_norm;
    // A NaN in one gradient: the flag says so.
    let mut broken = grads;
    broken[1] = broken[1].clone().mul_scalar(f32::NAN);
    let (_, broken_figures) = cube::adam_step(&params, broken, &adam, loss, &hyper);
    let nan_flag = read_values(broken_figures).await?[n];
    Ok(Some(AdamCheck { difference, norm_difference, flags: (figures[n], nan_flag), loss: figures[n + 1], dispatches: (kernel.dispatches, reference.dispatches) }))
}
