//! Adam's kernels on the wgpu device (lavapipe in the tests) against its reference, the
//! tensor ops: the same gradient norm, new weights and moments from far fewer dispatches, and a
//! NaN flagged.
mod common;

#[test]
fn the_wgpu_adam_kernel_matches_the_tensor_ops_and_flags_a_nan() {
    let Some(device) = common::wgpu() else { return };
    let result = common::block_on(shige_core::kernels::adam::check(&device)).unwrap().expect("the kernel serves the wgpu device");
    assert!(result.difference < 1e-5, "max abs diff {}", result.difference);
    assert!(result.norm_difference < 1e-5, "squared gradient norm: relative diff {}", result.norm_difference);
    assert_eq!(result.flags, (0.0, 1.0), "finite gradients are not flagged; a NaN one is");
    assert_eq!(result.loss, 4.25, "the loss travels in the same read-back");
    let (kernel, tensor_ops) = result.dispatches;
    assert!(kernel * 3 < tensor_ops, "kernel {kernel} vs tensor ops {tensor_ops} dispatches");
}

#[test]
fn the_kernel_does_not_claim_the_cpu() {
    use shige_core::kernels::{Kernel, Route, route};
    assert_ne!(route(&common::cpu(), Kernel::Adam), Route::Cube);
}
