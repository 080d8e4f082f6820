//! Adam on the wgpu device in two kernels per parameter tensor: one sums the squares of its
//! gradient, the other clips (by the global norm of all of them), updates both moments and the
//! weights and checks the new weights are finite. As tensor ops (`adam_tensor_ops`, the
//! reference in `mod.rs`) that is about fifteen dispatches per tensor. On a GPU a step is
//! bound by dispatches (BENCHMARKS.md "Dispatches per training step"); the CPU has `cpu.rs`.

use burn::tensor::Tensor;

use super::{AdamParams, AdamState, Update};

/// Adam as `adam_tensor_ops` computes it, after scaling the gradients so their global
/// norm is at most `grad_clip`. Returns the new weights and moments (not yet committed) and
/// `[n + 2]` figures for the step's checks, read back at once: each gradient's sum of squares,
/// then 1 if any new weight is NaN or infinite (else 0), then the step's `loss` (`[1]`). Only on
/// a device `route` sends to the CubeCL kernels (the update kernel binds eight tensors and
/// CubeCL's metadata).
pub(crate) fn adam_step(params: &[Tensor<2>], grads: Vec<Tensor<2>>, adam: &AdamState, loss: Tensor<1>, c: &AdamParams) -> (Update, Tensor<1>) {
    let device = params[0].device();
    let n = grads.len();
    let mut figures = Tensor::<1>::empty([n + 2], &device); // every slot is written below
    for (slot, grad) in grads.iter().enumerate() {
        figures = ops::sum_of_squares(grad, &loss, figures, slot as u32, n as u32);
    }
    let t = adam.t + 1;
    let (step_size, v_scale) = c.scales(t);
    let constants = Constants {
        beta1: c.beta1 as f32,
        beta2: c.beta2 as f32,
        epsilon: c.epsilon as f32,
        step_size,
        v_scale,
        grad_clip: c.grad_clip.max(0.0) as f32,
        tensors: n as u32,
    };
    let mut next = Update { params: Vec::new(), adam: AdamState { m: Vec::new(), v: Vec::new(), t } };
    for (i, grad) in grads.into_iter().enumerate() {
        let (p, m, v, updated) = ops::adam_update(&params[i], &adam.m[i], &adam.v[i], grad, figures, constants);
        next.params.push(p);
        next.adam.m.push(m);
        next.adam.v.push(v);
        figures = updated;
    }
    (next, figures)
}

/// The step's scalars (they change every step, so they are kernel arguments, not constants
/// compiled into it).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))] // read by the wgpu kernel only
pub(crate) struct Constants {
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    /// learning rate / (1 - β1ᵗ)
    step_size: f32,
    /// 1 / (1 - β2ᵗ)
    v_scale: f32,
    /// Largest global gradient norm; 0 turns clipping off.
    grad_clip: f32,
    /// Parameter tensors: the figures' slots before the finiteness flag.
    tensors: u32,
}

// Without wgpu the extension has no backend to run on (the CPU steps through cpu.rs).
#[cfg_attr(not(feature = "wgpu"), allow(unused_variables, dead_code))]
mod ops {
    use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
    use burn::tensor::Tensor;

    use super::Constants;

    #[backend_extension(Cube: cfg(feature = "wgpu"))]
    pub trait AdamOps: Backend {
        /// Writes the sum of `grad`'s squares into `figures[slot]` (and, for slot 0, zeroes the
        /// flag at `figures[flag]` and copies `loss` after it); returns `figures`, updated in place.
        fn sum_of_squares(grad: FloatTensor<Self>, loss: FloatTensor<Self>, figures: FloatTensor<Self>, slot: u32, flag: u32) -> FloatTensor<Self>;

        /// `(param, m, v, figures)` after one step; the flag in `figures` is set in place.
        fn adam_update(
            param: FloatTensor<Self>,
            m: FloatTensor<Self>,
            v: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            figures: FloatTensor<Self>,
            constants: Constants,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    }

    #[cfg(feature = "wgpu")]
    impl AdamOps for burn_cubecl::CubeBackend {
        fn sum_of_squares(grad: FloatTensor<Self>, loss: FloatTensor<Self>, figures: FloatTensor<Self>, slot: u32, flag: u32) -> FloatTensor<Self> {
            super::launch::sum_of_squares(grad, loss, figures, slot, flag)
        }

        fn adam_update(
            param: FloatTensor<Self>,
            m: FloatTensor<Self>,
            v: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            figures: FloatTensor<Self>,
            constants: Constants,
        ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
            super::launch::adam_update(param, m, v, grad, figures, constants)
        }
    }

    pub fn sum_of_squares(grad: &Tensor<2>, loss: &Tensor<1>, figures: Tensor<1>, slot: u32, flag: u32) -> Tensor<1> {
        Tensor::from_dispatch(<Dispatch as AdamOps>::sum_of_squares(grad.clone().into_dispatch(), loss.clone().into_dispatch(), figures.into_dispatch(), slot, flag))
    }

    pub fn adam_update(param: &Tensor<2>, m: &Tensor<2>, v: &Tensor<2>, grad: Tensor<2>, figures: Tensor<1>, c: Constants) -> (Tensor<2>, Tensor<2>, Tensor<2>, Tensor<1>) {
        let (p, m, v, figures) = <Dispatch as AdamOps>::adam_update(
            param.clone().into_dispatch(),
            m.clone().into_dispatch(),
            v.clone().into_dispatch(),
            grad.into_dispatch(),
            figures.into_dispatch(),
            c,
        );
        (Tensor::from_dispatch(p), Tensor::from_dispatch(m), Tensor::from_dispatch(v), Tensor::from_dispatch(figures))
    }
}

/// The kernels and their launches.
#[cfg(feature = "wgpu")]
mod launch {
    use burn::backend::{TensorMetadata, tensor::FloatTensor};
    use burn::tensor::DType;
    use burn_cubecl::CubeBackend;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
    use cubecl::prelude::{CubeCount, CubeDim};

    use super::Constants;
    use crate::kernels::UNITS;
    use kernels::{adam_kernel, sum_of_squares_kernel};

    /// The kernels (their own module: CubeCL's prelude has its own `Tensor`).
    mod kernels {
        use cubecl::prelude::*;

        use crate::kernels::workgroup::workgroup_reduce;

        /// One workgroup: each unit sums a stride of the squares, then a tree in workgroup
        /// memory adds them up. (A gradient is at most a few million floats: one workgroup
        /// reads it in well under a millisecond, and needs no second pass.)
        #[cube(launch)]
        pub fn sum_of_squares_kernel(grad: &Tensor<f32>, loss: &Tensor<f32>, figures: &mut Tensor<f32>, slot: u32, flag: u32, #[comptime] units: usize) {
            let mut partial = Shared::<[f32]>::new_slice(units);
            let unit = UNIT_POS_X as usize;
            let stride = CUBE_DIM_X as usize; // = units, as a runtime value for the loops
            let mut sum = 0.0f32;
            let mut i = unit;
            while i < grad.len() {
                let g = grad[i];
                sum += g * g;
                i += stride;
            }
            let total = workgroup_reduce(&mut partial, sum, false);
            if unit == 0 {
                figures[slot as usize] = total;
                if slot == 0 {
                    figures[flag as usize] = 0.0;
                    figures[flag as usize + 1] = loss[0];
                }
            }
        }

        /// One invocation per weight. `figures` holds each gradient's sum of squares (the
        /// global norm, for clipping) and, at `tensors`, the non-finite flag.
        #[cube(launch)]
        #[allow(clippy::too_many_arguments)]
        pub fn adam_kernel(
            param: &Tensor<f32>,
            m: &Tensor<f32>,
            v: &Tensor<f32>,
            grad: &Tensor<f32>,
            figures: &mut Tensor<f32>,
            new_param: &mut Tensor<f32>,
            new_m: &mut Tensor<f32>,
            new_v: &mut Tensor<f32>,
            beta1: f32,
            beta2: f32,
            epsilon: f32,
            step_size: f32,
            v_scale: f32,
            grad_clip: f32,
            tensors: u32,
        ) {
            let i = ABSOLUTE_POS;
            if i < param.len() {
                let mut scale = 1.0f32;
                if grad_clip > 0.0 {
                    let mut squares = 0.0f32;
                    for k in 0..tensors {
                        squares += figures[k as usize];
                    }
                    scale = grad_clip / f32::max(squares.sqrt(), grad_clip);
                }
                let g = grad[i] * scale;
                let m1 = beta1 * m[i] + (1.0 - beta1) * g;
                let v1 = beta2 * v[i] + (1.0 - beta2) * g * g;
                let p1 = param[i] - step_size * m1 / ((v1 * v_scale).sqrt() + epsilon);
                new_m[i] = m1;
                new_v[i] = v1;
                new_param[i] = p1;
                // Every invocation that finds a non-finite weight writes the same 1: no atomics.
                if p1.is_nan() || p1.is_inf() {
                    figures[tensors as usize] = 1.0;
                }
            }
        }
    }

    pub fn sum_of_squares(grad: FloatTensor<CubeBackend>, loss: FloatTensor<CubeBackend>, figures: FloatTensor<CubeBackend>, slot: u32, flag: u32) -> FloatTensor<CubeBackend> {
        let (grad, loss) = (into_contiguous(grad), into_contiguous(loss));
        assert_eq!(grad.dtype, DType::F32, "the Adam kernels are f32");
        let client = grad.client.clone();
        sum_of_squares_kernel::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(UNITS as u32),
            grad.into_tensor_arg(),
            loss.into_tensor_arg(),
            figures.clone().into_tensor_arg(),
            slot,
            flag,
            UNITS,
        );
        figures
    }

    pub fn adam_update(
        param: FloatTensor<CubeBackend>,
        m: FloatTensor<CubeBackend>,
        v: FloatTensor<CubeBackend>,
        grad: FloatTensor<CubeBackend>,
        figures: FloatTensor<CubeBackend>,
        c: Constants,
    ) -> (FloatTensor<CubeBackend>, FloatTensor<CubeBackend>, FloatTensor<CubeBackend>, FloatTensor<CubeBackend>) {
        let (param, m, v, grad) = (into_contiguous(param), into_contiguous(m), into_contiguous(v), into_contiguous(grad));
        assert_eq!(param.dtype, DType::F32, "the Adam kernels are f32");
        let (client, device) = (param.client.clone(), param.device.clone());
        let shape = param.shape();
        let empty = || empty_device_contiguous_dtype(client.clone(), device.clone(), shape.clone(), DType::F32);
        let (new_param, new_m, new_v) = (empty(), empty(), empty());
        let dim = CubeDim::new_1d(UNITS as u32);
        let count = cubecl::calculate_cube_count_elemwise(&client, shape.num_elements(), dim);
        adam_kernel::launch(
            &client,
            count,
            dim,
            param.into_tensor_arg(),
            m.into_tensor_arg(),
            v.into_tensor_arg(),
            grad.into_tensor_arg(),
            figures.clone().into_tensor_arg(),
            new_param.clone().into_tensor_arg(),
            new_m.clone().into_tensor_arg(),
            new_v.clone().into_tensor_arg(),
            c.beta1,
            c.beta2,
            c.epsilon,
            c.step_size,
            c.v_scale,
            c.grad_clip,
            c.tensors,
        );
        (new_param, new_m, new_v, figures)
    }
}
