//! The GRU's fused recurrence — WebGPU kernels on the wgpu device (lavapipe in the tests), plain
//! loops on the CPU — against its reference, the tensor-op GRU: the same outputs and the same
//! gradients (`model::recurrent::check_gru_kernel`; the browser test runs it on Chromium's WebGPU too).
mod common;

use shige_core::model::recurrent::check_gru_kernel as check;

fn assert_matches(device: &burn::tensor::Device, on_gpu: bool) {
    let result = common::block_on(check(device)).unwrap().expect("a fused GRU on this device");
    for (what, diff) in &result.differences {
        assert!(*diff < 1e-4, "{what}: max abs diff {diff}");
    }
    let (fused, tensor_ops) = result.dispatches;
    if on_gpu {
        // The kernels really ran: the recurrence is 2 dispatches instead of about ten per step.
        assert!(fused * 3 < tensor_ops, "fused {fused} vs tensor ops {tensor_ops} dispatches");
    }
}

#[test]
fn the_wgpu_kernels_match_the_tensor_op_gru_forward_and_backward() {
    if let Some(device) = common::wgpu() {
        assert_matches(&device, true);
    }
}

#[test]
fn the_cpu_loops_match_the_tensor_op_gru_forward_and_backward() {
    assert_matches(&common::cpu(), false);
}
