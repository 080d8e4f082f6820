//! The hand-written kernels, each in its folder with its tensor-op reference (`mod.rs`), its
//! CubeCL kernel for wgpu/WebGPU (`cube.rs`; not the Transformer's) and its CPU loops (`cpu.rs`); the one `route` that
//! picks among them; the one harness that checks a kernel against its reference. Uses
//! `readback` only.

pub mod adam;
#[cfg(feature = "wgpu")]
pub mod dispatch;
pub mod gru;
pub mod matmul;
pub mod output;
pub(crate) mod simd;
pub mod transformer;

use burn::tensor::{Device, Tensor};

use crate::readback::{ReadError, read_values};

/// Invocations per workgroup of every CubeCL kernel here: WebGPU guarantees 256.
#[cfg(feature = "wgpu")]
pub(crate) const UNITS: usize = 256;

/// The kernels `route` chooses a version of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// A GRU layer's recurrence of this hidden size (`gru`).
    Gru { hidden: usize },
    /// The optimiser step (`adam`).
    Adam,
    /// The output layer's softmax cross-entropy and its gradient (`output`).
    Output,
    /// The Transformer's GELU (`transformer`).
    Gelu,
    /// The Transformer's causal self-attention (`transformer`).
    Attention,
}

/// Which version of a kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// burn's CPU backend (flex): the kernel's loops over host slices, on every core (`cpu.rs`).
    CpuLoops,
    /// A CubeCL (wgpu) device: the CubeCL kernel (`cube.rs`).
    Cube,
    /// The tensor-op reference (`mod.rs`): any other device, a CubeCL device the kernel does not
    /// fit, or where the kernel's switch asks for it.
    TensorOps,
}

impl Kernel {
    /// The environment variable that asks for the tensor-op reference instead (to measure
    /// against it, or to rule the kernel out; not in the browser).
    pub fn reference_switch(self) -> &'static str {
        match self {
            Kernel::Gru { .. } => "SHIGE_TENSOR_OP_GRU",
            Kernel::Adam => "SHIGE_TENSOR_OP_ADAM",
            Kernel::Output => "SHIGE_TENSOR_OP_OUTPUT",
            Kernel::Gelu => "SHIGE_TENSOR_OP_GELU",
            Kernel::Attention => "SHIGE_TENSOR_OP_ATTENTION",
        }
    }

    /// Storage buffers the CubeCL kernel binds: its tensors and CubeCL's metadata. WebGPU
    /// guarantees 8 per stage; Chromium's SwiftShader offers 10, CubeCL keeps one back.
    #[cfg(feature = "wgpu")]
    fn bindings(self) -> u32 {
        match self {
            Kernel::Gru { .. } => 7,
            Kernel::Adam => 9,
            Kernel::Output => 7,
            Kernel::Gelu | Kernel::Attention => 0,
        }
    }

    /// Whether the CubeCL kernel takes this size (the GRU keeps its state in workgroup memory).
    /// The Transformer's have no CubeCL kernel: burn's ops run them on wgpu.
    #[cfg(feature = "wgpu")]
    fn fits(self) -> bool {
        match self {
            Kernel::Gru { hidden } => gru::fits_workgroup_memory(hidden),
            Kernel::Adam | Kernel::Output => true,
            Kernel::Gelu | Kernel::Attention => false,
        }
    }
}

/// Which version of `kernel` runs on `device`: the CPU loops on burn's CPU backend, the CubeCL
/// kernel on a CubeCL device that binds enough buffers and fits it, else the tensor-op
/// reference; always the reference when the kernel's switch is set.
#[cfg_attr(all(target_arch = "wasm32", not(feature = "wgpu")), allow(unused_variables))] // no switch, no size limit
pub fn route(device: &Device, kernel: Kernel) -> Route {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os(kernel.reference_switch()).is_some() {
        return Route::TensorOps;
    }
    match device.clone().inner().as_dispatch() {
        burn::backend::DispatchDevice::Flex(_) => Route::CpuLoops,
        #[cfg(feature = "wgpu")]
        burn::backend::DispatchDevice::Cube(cube) if kernel.fits() && cube.client().properties().hardware.max_bindings >= kernel.bindings() => Route::Cube,
        #[allow(unreachable_patterns)]
        _ => Route::TensorOps,
    }
}

/// How far a kernel is from its tensor-op reference on a device (for the tests, natively and in
/// the browser's WebGPU).
pub struct KernelCheck {
    /// `(what, largest absolute difference)` for each output.
    pub differences: Vec<(&'static str, f32)>,
    /// Compute dispatches of the kernel's and of the reference's version (0 on the CPU).
    pub dispatches: (usize, usize),
}

/// What one version gave in a check: its outputs, read back, and the dispatches it took.
pub struct CheckRun {
    pub outputs: Vec<Vec<f32>>,
    pub dispatches: usize,
}

/// The check harness: runs the kernel (`run(true)`) and its reference (`run(false)`) on the
/// same inputs, each under its own dispatch count, and reads back the outputs each returns
/// (flattened, see [`flat`]). Returns `[kernel, reference]`.
pub async fn run_both(mut run: impl FnMut(bool) -> Vec<Tensor<1>>) -> Result<[CheckRun; 2], ReadError> {
    let mut runs = Vec::with_capacity(2);
    for kernel in [true, false] {
        #[cfg(feature = "wgpu")]
        let counter = dispatch::DispatchCount::start();
        let tensors = run(kernel);
        #[cfg(feature = "wgpu")]
        let dispatches = counter.count();
        #[cfg(not(feature = "wgpu"))]
        let dispatches = 0;
        let mut outputs = Vec::with_capacity(tensors.len());
        for t in tensors {
            outputs.push(read_values(t).await?);
        }
        runs.push(CheckRun { outputs, dispatches });
    }
    let reference = runs.pop().expect("two runs");
    Ok([runs.pop().expect("two runs"), reference])
}

/// A tensor as one row, for [`run_both`] (a reshape of the contiguous results: no dispatch).
pub fn flat<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let n = t.shape().num_elements();
    t.reshape([n])
}

impl KernelCheck {
    /// Output by output, the largest absolute difference between the kernel's and the
    /// reference's values (infinite where their lengths differ).
    pub fn compare(names: &[&'static str], [kernel, reference]: [CheckRun; 2]) -> Self {
        let differences = names
            .iter()
            .zip(kernel.outputs.iter().zip(&reference.outputs))
            .map(|(name, (a, b))| {
                let diff = if a.len() == b.len() { a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max) } else { f32::INFINITY };
                (*name, diff)
            })
            .collect();
        KernelCheck { differences, dispatches: (kernel.dispatches, reference.dispatches) }
    }
}

/// Building blocks of the CubeCL kernels (CubeCL's prelude has its own `Tensor`, so its own module).
#[cfg(feature = "wgpu")]
pub(crate) mod workgroup {
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
