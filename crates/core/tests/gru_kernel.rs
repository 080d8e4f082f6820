//! The GRU's fused recurrence — WebGPU kernels on the wgpu device (lavapipe in the tests), plain
//! loops on the CPU — against its reference, the tensor-op GRU: the same outputs and the same
//! gradients for every input.
mod common;

use burn::tensor::{Distribution, Tensor};
use shige_core::model::{Cell, LayerState, Probes, RecurrentLayer};

/// x @ W_ih + b_ih for all steps: `[T, B, 3H]`.
fn layer_gi(layer: &RecurrentLayer, x: &Tensor<3>) -> Tensor<3> {
    let [t, b, i] = x.dims();
    (x.clone().reshape([t * b, i]).matmul(layer.weight_ih.val()) + layer.bias_ih.val()).reshape([t, b, layer.weight_ih.dims()[1]])
}

fn random<const D: usize>(shape: [usize; D], device: &burn::tensor::Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Uniform(-0.5, 0.5), device)
}

#[test]
fn the_wgpu_kernels_match_the_tensor_op_gru_forward_and_backward() {
    let Some(device) = common::wgpu() else { return };
    compare(&device);
}

#[test]
fn the_cpu_loops_match_the_tensor_op_gru_forward_and_backward() {
    compare(&common::cpu());
}

fn compare(device: &burn::tensor::Device) {
    let device = device.clone();
    let on_gpu = !matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Flex(_));
    let (t, b, i, h) = (7, 3, 6, 5);
    let x = random([t, b, i], &device);
    let params = [random([i, 3 * h], &device), random([h, 3 * h], &device), random([1, 3 * h], &device), random([1, 3 * h], &device)];
    let h0 = random([b, h], &device);
    // A loss that weighs every output and the final state differently.
    let weights = random([t, b, h], &device);
    let last_weights = random([b, h], &device);

    let run = |kernel: bool| {
        let tracked: Vec<Tensor<2>> = params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let layer = RecurrentLayer {
            weight_ih: burn::module::Param::from_tensor(tracked[0].clone()),
            weight_hh: burn::module::Param::from_tensor(tracked[1].clone()),
            bias_ih: burn::module::Param::from_tensor(tracked[2].clone()),
            bias_hh: burn::module::Param::from_tensor(tracked[3].clone()),
            cell: Cell::Gru,
        };
        let (x, h0) = (x.clone().autodiff().require_grad(), h0.clone().autodiff().require_grad());
        // The fused path is really taken on this device.
        let fused = shige_core::gru_kernel::gru_sequence(&layer_gi(&layer, &x), &layer.weight_hh.val(), &layer.bias_hh.val(), &h0);
        assert!(fused.is_some(), "no fused GRU on this device");
        let dispatches = shige_core::dispatch::DispatchCount::start();
        let state = LayerState { h: h0.clone(), c: None };
        let (out, last) = if kernel {
            layer.forward(x.clone(), state, &mut Probes::default())
        } else {
            layer.forward_tensor_ops(x.clone(), state, &mut Probes::default())
        };
        let loss = (out.clone() * weights.clone().autodiff()).sum() + (last.h * last_weights.clone().autodiff()).sum();
        let grads = loss.backward();
        let launched = dispatches.count();
        drop(dispatches);
        let mut values = vec![out.inner().into_data().try_to_vec::<f32>().unwrap()];
        for p in tracked.iter().chain([&h0]) {
            values.push(p.grad(&grads).expect("tracked").into_data().try_to_vec::<f32>().unwrap());
        }
        values.push(x.grad(&grads).expect("tracked").reshape([t * b, i]).into_data().try_to_vec::<f32>().unwrap());
        (values, launched)
    };
    let ((kernel, kernel_dispatches), (reference, reference_dispatches)) = (run(true), run(false));
    if on_gpu {
        // The kernels really ran: the recurrence is 2 dispatches instead of about ten per step.
        assert!(kernel_dispatches * 3 < reference_dispatches, "kernel {kernel_dispatches} vs tensor ops {reference_dispatches} dispatches");
    }
    let names = ["outputs", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0", "dx"];
    for ((name, a), b) in names.iter().zip(&kernel).zip(&reference) {
        assert_eq!(a.len(), b.len(), "{name}");
        let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "{name}: max abs diff {diff}");
    }
}
