//! What the hand-written WebGPU kernels (`gru_kernel.rs`, `adam_gpu.rs`, `output_gpu.rs`) share:
//! whether a device runs them, and how a kernel's check against its tensor-op reference reads.

use burn::tensor::Device;

/// Whether a kernel binding `bindings` storage buffers (its tensors and CubeCL's metadata) runs
/// on `device`: a CubeCL (wgpu) device that binds that many (WebGPU guarantees 8 per stage;
/// Chromium's SwiftShader offers 10, CubeCL keeps one back), unless the environment variable
/// `reference_switch` asks for the tensor-op reference (to measure against it, or to rule the
/// kernel out; not in the browser).
pub fn kernel_runs(device: &Device, bindings: u32, reference_switch: &str) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os(reference_switch).is_some() {
        return false;
    }
    #[cfg(target_arch = "wasm32")]
    let _ = reference_switch;
    #[cfg(feature = "wgpu")]
    return match device.clone().inner().as_dispatch() {
        burn::backend::DispatchDevice::Cube(cube) => cube.client().properties().hardware.max_bindings >= bindings,
        _ => false,
    };
    #[cfg(not(feature = "wgpu"))]
    return {
        let _ = (device, bindings);
        false
    };
}

/// How far a kernel is from its tensor-op reference on a device (for the tests, natively and in
/// the browser's WebGPU).
pub struct KernelCheck {
    /// `(what, largest absolute difference)` for each output.
    pub differences: Vec<(&'static str, f32)>,
    /// Compute dispatches of the kernel's and of the reference's version (0 on the CPU).
    pub dispatches: (usize, usize),
}

/// Building blocks of the kernels (CubeCL's prelude has its own `Tensor`, so its own module).
#[cfg(feature = "wgpu")]
pub(crate) mod cube {
    use cubecl::prelude::*;

    /// Every unit's `value` summed (`max`: the largest) over the workgroup, through `partial`
    /// (one slot a unit; a power-of-two workgroup): a tree with a barrier per level. Every unit
    /// gets the result, and `partial` may be reused at once.
    #[cube]
    pub fn workgroup_reduce(partial: &mut Shared<[f32]>, value: f32, #[comptime] max: bool) -> f32 {
        let unit = UNIT_POS_X as usize;
        partial[unit] = value;
        sync_cube();
        let mut half = CUBE_DIM_X as usize / 2;
        while half > 0 {
            if unit < half {
                let (a, b) = (partial[unit], partial[unit + half]);
                let mut pair = a + b;
                if max {
                    pair = f32::max(a, b);
                }
                partial[unit] = pair;
            }
            sync_cube();
            half /= 2;
        }
        let result = partial[0];
        sync_cube();
        result
    }
}
